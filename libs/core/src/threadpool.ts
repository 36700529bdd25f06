// Imported first by each process's main.ts, before anything touches the libuv thread pool.
// Storage writes end with fsync, which holds a pool thread for milliseconds: with the default 4
// threads, 8 instances in flight would queue behind each other's fsyncs.
process.env.UV_THREADPOOL_SIZE ??= '16';
export {};
