// Imported first by each process's main.ts, before anything touches the libuv thread pool.
// Storage writes end with fsync, which holds a pool thread for milliseconds: with the default 4
// threads, a worker's instances in flight (WORKER_CONCURRENCY, 32) queue behind each other's
// fsyncs. 16, not one per instance in flight: most of an instance's time is spent elsewhere
// (reads, CPU, Postgres), so they do not all need a thread at once.
process.env.UV_THREADPOOL_SIZE ??= '16';
export {};
