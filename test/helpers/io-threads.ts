/** I/O threads (`workerCount` > 1) need Node 24 or later: suites run their I/O-thread modes only there. */
export const IO_THREADS = Number(process.versions.node.split('.')[0]) >= 24;
