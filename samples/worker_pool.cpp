// The worker pool of README.md ("Coordinating fibers"), kept here so that it builds and
// runs in CI (CTest: sample_worker_pool): jobs through a channel, a WaitGroup for the end.
#include <weft/weft.hpp>

int main() {
  weft::Channel<int> jobs(64);        // capacity 64; Channel<int>() is unbuffered
  weft::Channel<long> results(64);
  weft::WaitGroup workers;
  for (int w = 0; w < 8; ++w) {
    workers.add(1);
    weft::spawn([jobs, results, &workers] {
      for (int n : jobs) results.send(long(n) * n);  // until jobs is closed and drained
      workers.done();
    });
  }
  weft::spawn([jobs] {
    for (int n = 1; n <= 1000; ++n) jobs.send(n);
    jobs.close();
  });
  weft::spawn([results, &workers] {
    workers.wait();
    results.close();
  });
  long sum = 0;
  for (long r : results) sum += r;  // a plain thread receives too
  return sum == 333'833'500 ? 0 : 1;
}
