//===- ThreadPool.cpp - A fixed pool of worker threads --------------------===//
//
// Workers sleep on a condition variable between jobs; a job hands out index chunks
// from an atomic counter, and the caller works too, then waits for the workers that
// joined the job, so that the next job never races with a straggler of the last.
//
//===----------------------------------------------------------------------===//

#include "runtime/ThreadPool.h"

#include <algorithm>

using namespace tmix::rt;

namespace {

/// Chunks per thread: small enough chunks that uneven bodies balance, large enough
/// that the counter is not contended for cheap ones.
constexpr int64_t kChunksPerThread = 8;

/// Set while a thread runs bodies of some pool: a nested parallelFor runs serially
/// instead of waiting for workers that are all busy with the outer job.
thread_local bool insidePoolBody = false;

} // namespace

ThreadPool::ThreadPool(unsigned numThreads) {
  if (numThreads == 0)
    numThreads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(numThreads - 1);
  for (unsigned i = 1; i < numThreads; ++i)
    workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread &worker : workers_)
    worker.join();
}

void ThreadPool::drain() {
  const std::function<void(int64_t)> &body = *body_;
  while (true) {
    int64_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (begin >= count_)
      return;
    int64_t end = std::min(count_, begin + chunk_);
    for (int64_t i = begin; i < end; ++i)
      body(i);
  }
}

void ThreadPool::workerLoop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_)
      return;
    seen = generation_;
    lock.unlock();
    insidePoolBody = true;
    drain();
    insidePoolBody = false;
    lock.lock();
    if (--busyWorkers_ == 0)
      done_.notify_one();
  }
}

void ThreadPool::parallelFor(int64_t count, const std::function<void(int64_t)> &body) {
  if (count <= 0)
    return;
  if (workers_.empty() || count == 1 || insidePoolBody) {
    for (int64_t i = 0; i < count; ++i)
      body(i);
    return;
  }

  std::lock_guard<std::mutex> callLock(callMutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    count_ = count;
    chunk_ = std::max<int64_t>(1, count / (int64_t(size()) * kChunksPerThread));
    next_.store(0, std::memory_order_relaxed);
    busyWorkers_ = static_cast<unsigned>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();

  insidePoolBody = true;
  drain();
  insidePoolBody = false;

  // Every worker joins every job (possibly finding no chunk left) and checks out, so
  // body_ and count_ stay valid until the last one has.
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return busyWorkers_ == 0; });
  body_ = nullptr;
}

ThreadPool &tmix::rt::defaultThreadPool() {
  static ThreadPool pool;
  return pool;
}
