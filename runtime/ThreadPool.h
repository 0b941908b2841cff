//===- ThreadPool.h - A fixed pool of worker threads ------------*- C++ -*-===//
//
// The CPU runtime runs a kernel's grid of programs on this pool: a fixed set of
// threads started once, reused by every launch, so that a launch costs a wake-up and
// not thread creation.
//
//===----------------------------------------------------------------------===//

#ifndef TMIX_RUNTIME_THREADPOOL_H
#define TMIX_RUNTIME_THREADPOOL_H

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tmix::rt {

class ThreadPool {
public:
  /// A pool in which `numThreads` threads run bodies: the caller of parallelFor and
  /// numThreads - 1 workers. 0 means std::thread::hardware_concurrency() (at least 1).
  explicit ThreadPool(unsigned numThreads = 0);
  /// Stops and joins the workers; no parallelFor may be running.
  ~ThreadPool();

  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  /// Threads that run bodies, the caller included.
  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  /// Runs body(i) for every i in [0, count), each exactly once, on the workers and the
  /// calling thread; returns when all are done. Indices are handed out in chunks from
  /// an atomic counter, so uneven bodies balance. Calls from several threads are
  /// serialised; a call from inside a body runs serially on that thread (no deadlock).
  /// Bodies must not throw (the project builds without exceptions).
  void parallelFor(int64_t count, const std::function<void(int64_t)> &body);

private:
  void workerLoop();
  /// Takes chunks of the current job until none is left.
  void drain();

  std::vector<std::thread> workers_;

  /// Serialises parallelFor callers: one job at a time.
  std::mutex callMutex_;

  /// Guards the fields below; workers sleep on wake_, the caller on done_.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  uint64_t generation_ = 0;  // bumped per job: a worker runs each job once
  unsigned busyWorkers_ = 0; // workers still inside the current job
  bool stopping_ = false;

  // The current job; written under mutex_ before workers wake.
  const std::function<void(int64_t)> *body_ = nullptr;
  int64_t count_ = 0;
  int64_t chunk_ = 1;
  std::atomic<int64_t> next_{0};
};

/// A process-wide pool with one thread per hardware thread, created on first use.
ThreadPool &defaultThreadPool();

} // namespace tmix::rt

#endif // TMIX_RUNTIME_THREADPOOL_H
