import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A self-signed certificate for localhost and 127.0.0.1, made once per test file with Debian's openssl; null without
 * it.
 */
export interface SelfSigned {
  key: Buffer;
  cert: Buffer;
  certPath: string;
  keyPath: string;
}

let made: SelfSigned | null | undefined;
export function selfSigned(): SelfSigned | null {
  if (made !== undefined) return made;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'wsz-tls-'));
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'ignore' },
    );
    made = { key: readFileSync(keyPath), cert: readFileSync(certPath), keyPath, certPath };
  } catch {
    made = null;
  }
  return made;
}
