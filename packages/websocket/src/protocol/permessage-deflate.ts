/**
 * permessage-deflate negotiation (RFC 7692 section 7), pure: header text in, agreement out. The server
 * side picks the first offer it can accept and declines the others; the client side builds an offer
 * and checks the server's answer against it.
 */

/** One extension of a Sec-WebSocket-Extensions header: its name and parameters in order (`true`: no value). */
export interface Extension {
  name: string;
  params: Array<[string, string | true]>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a Sec-WebSocket-Extensions value (RFC 6455 9.1: `extension *( "," extension )`, each a token
 * with `;`-separated parameters, values a token or a quoted-string whose content is a token). Returns
 * null for text that does not follow that grammar.
 */
export function parseExtensions(value: string): Extension[] | null {
  const out: Extension[] = [];
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const token = (): string | null => {
    const start = i;
    while (i < n && TOKEN.test(value[i]!)) i++;
    return i > start ? value.slice(start, i) : null;
  };
  for (;;) {
    skipSpace();
    // Empty list elements (", ,") are allowed by the list rule.
    if (i < n && value[i] === ',') {
      i++;
      continue;
    }
    if (i >= n) break;
    const name = token();
    if (name === null) return null;
    const ext: Extension = { name, params: [] };
    skipSpace();
    while (i < n && value[i] === ';') {
      i++;
      skipSpace();
      const param = token();
      if (param === null) return null;
      skipSpace();
      let paramValue: string | true = true;
      if (value[i] === '=') {
        i++;
        skipSpace();
        if (value[i] === '"') {
          i++;
          let text = '';
          while (i < n && value[i] !== '"') {
            if (value[i] === '\\') i++;
            if (i < n) text += value[i++];
          }
          if (i >= n) return null; // unterminated
          i++;
          if (!TOKEN.test(text)) return null;
          paramValue = text;
        } else {
          const v = token();
          if (v === null) return null;
          paramValue = v;
        }
        skipSpace();
      }
      ext.params.push([param, paramValue]);
    }
    out.push(ext);
    skipSpace();
    if (i < n && value[i] !== ',') return null;
  }
  return out;
}

/** What a server is willing to agree to (the resolved `perMessageDeflate` config). */
export interface DeflatePolicy {
  /**
   * Ask for (and use) no context takeover on the server's own messages: one shared compressor, no per-connection state.
   */
  serverNoContextTakeover: boolean;
  /** Ask the client to use no context takeover: one shared decompressor, no per-connection state. */
  clientNoContextTakeover: boolean;
  /** Largest window the server compresses with (9-15; zlib cannot compress with 8). */
  serverMaxWindowBits: number;
  /** Largest window the server asks the client to compress with, when the client lets it choose (9-15). */
  clientMaxWindowBits: number;
}

/** The parameters both sides use, and the response header that says so. */
export interface DeflateAgreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** Window the server compresses with. */
  serverWindowBits: number;
  /** Window the client may compress with (what the server's decompressor must hold). */
  clientWindowBits: number;
  /** The Sec-WebSocket-Extensions value that states the agreement. */
  header: string;
}

const WINDOW_BITS = /^(?:8|9|1[0-5])$/;

/** Parsed parameters of one offer or response, or a reason to decline it. */
interface Params {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | null;
  /** null: absent; true: present without a value. */
  clientMaxWindowBits: number | true | null;
}

function readParams(params: Extension['params']): Params | string {
  const p: Params = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return `duplicate parameter ${name}`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return `${name} takes no value`;
        if (name === 'server_no_context_takeover') p.serverNoContextTakeover = true;
        else p.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) return `${name} must be 8 to 15`;
        p.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value !== true && !WINDOW_BITS.test(value)) return `${name} must be 8 to 15`;
        p.clientMaxWindowBits = value === true ? true : Number(value);
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return p;
}

/**
 * The server's side (RFC 7692 7.1): the first permessage-deflate offer it can accept, or null when
 * there is none (then the connection goes on without compression). An offer with an unknown or
 * repeated parameter or an invalid value is declined and the next one tried, as is one that needs
 * the server to compress with an 8-bit window (zlib's raw deflate cannot: it silently uses 9).
 */
export function negotiateDeflate(offers: readonly Extension[], policy: DeflatePolicy): DeflateAgreement | null {
  for (const offer of offers) {
    if (offer.name !== 'permessage-deflate') continue;
    const p = readParams(offer.params);
    if (typeof p === 'string') continue;
    const serverWindowBits = Math.min(p.serverMaxWindowBits ?? 15, policy.serverMaxWindowBits);
    if (serverWindowBits < 9) continue;
    // Without client_max_window_bits in the offer the client may use 15, and we may not say otherwise.
    const clientWindowBits =
      p.clientMaxWindowBits === null
        ? 15
        : Math.min(p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits, policy.clientMaxWindowBits);
    const serverNoContextTakeover = p.serverNoContextTakeover || policy.serverNoContextTakeover;
    const clientNoContextTakeover = p.clientNoContextTakeover || policy.clientNoContextTakeover;
    let header = 'permessage-deflate';
    if (serverNoContextTakeover) header += '; server_no_context_takeover';
    if (clientNoContextTakeover) header += '; client_no_context_takeover';
    // Required when offered; otherwise left out (a smaller window than the client allows is always readable).
    if (p.serverMaxWindowBits !== null) header += `; server_max_window_bits=${serverWindowBits}`;
    if (p.clientMaxWindowBits !== null) header += `; client_max_window_bits=${clientWindowBits}`;
    return { serverNoContextTakeover, clientNoContextTakeover, serverWindowBits, clientWindowBits, header };
  }
  return null;
}

/** What a client offers (`Client.connect`'s `perMessageDeflate` option). */
export interface DeflateOffer {
  /** Ask the server not to use context takeover (default false). */
  serverNoContextTakeover?: boolean;
  /** Promise not to use context takeover ourselves (default false). */
  clientNoContextTakeover?: boolean;
  /** Largest window the server may compress with (8-15; default: not offered, 15). */
  serverMaxWindowBits?: number;
  /** Offer client_max_window_bits, letting the server choose our window (default true, as browsers). */
  clientMaxWindowBits?: boolean | number;
}

/** The Sec-WebSocket-Extensions value of a client's offer. */
export function deflateOfferHeader(offer: DeflateOffer): string {
  let header = 'permessage-deflate';
  if (offer.serverNoContextTakeover) header += '; server_no_context_takeover';
  if (offer.clientNoContextTakeover) header += '; client_no_context_takeover';
  if (offer.serverMaxWindowBits !== undefined) header += `; server_max_window_bits=${offer.serverMaxWindowBits}`;
  const cmw = offer.clientMaxWindowBits ?? true;
  if (cmw === true) header += '; client_max_window_bits';
  else if (cmw !== false) header += `; client_max_window_bits=${cmw}`;
  return header;
}

/**
 * The client's side: checks the server's Sec-WebSocket-Extensions answer against what was offered.
 * Returns null when the server declined (no header), the agreement, or the reason the answer is
 * invalid (an extension not offered, more than one, a parameter not offered or out of range).
 */
export function acceptDeflateResponse(
  value: string | undefined,
  offer: DeflateOffer,
): DeflateAgreement | null | string {
  if (value === undefined || value.trim() === '') return null;
  const exts = parseExtensions(value);
  if (exts === null) return `malformed Sec-WebSocket-Extensions: ${value}`;
  if (exts.length === 0) return null;
  if (exts.length > 1 || exts[0]!.name !== 'permessage-deflate')
    return `the server accepted extensions that were not offered: ${value}`;
  const p = readParams(exts[0]!.params);
  if (typeof p === 'string') return `invalid permessage-deflate response: ${p}`;
  if (p.clientMaxWindowBits === true)
    return 'invalid permessage-deflate response: client_max_window_bits needs a value';
  if (
    p.serverMaxWindowBits !== null &&
    offer.serverMaxWindowBits !== undefined &&
    p.serverMaxWindowBits > offer.serverMaxWindowBits
  ) {
    return `invalid permessage-deflate response: server_max_window_bits=${p.serverMaxWindowBits} is over the ${offer.serverMaxWindowBits} offered`;
  }
  const offeredClientBits = offer.clientMaxWindowBits ?? true;
  if (p.clientMaxWindowBits !== null) {
    if (offeredClientBits === false)
      return 'invalid permessage-deflate response: client_max_window_bits was not offered';
    if (typeof offeredClientBits === 'number' && p.clientMaxWindowBits > offeredClientBits) {
      return `invalid permessage-deflate response: client_max_window_bits=${p.clientMaxWindowBits} is over the ${offeredClientBits} offered`;
    }
  }
  if (offer.serverNoContextTakeover && !p.serverNoContextTakeover) {
    // RFC 7692 7.1.1.1: a server that accepts must include it when it was offered.
    return 'invalid permessage-deflate response: server_no_context_takeover was offered and not accepted';
  }
  const clientWindowBits =
    typeof p.clientMaxWindowBits === 'number'
      ? p.clientMaxWindowBits
      : typeof offeredClientBits === 'number'
        ? offeredClientBits
        : 15;
  return {
    serverNoContextTakeover: p.serverNoContextTakeover,
    clientNoContextTakeover: p.clientNoContextTakeover || offer.clientNoContextTakeover === true,
    serverWindowBits: p.serverMaxWindowBits ?? 15,
    clientWindowBits,
    header: value,
  };
}
