"""A python3 multiprocessing job: a Pool of 2 workers (pipes, POSIX semaphores in /dev/shm
deleted while mapped) and a shared counter (mp.Value: a deleted file mapped shared)."""
import hashlib
import multiprocessing as mp
import time

counter = None


def init(c):
    global counter
    counter = c


def work(i):
    h = hashlib.sha256(str(i).encode())
    for _ in range(3000):
        h = hashlib.sha256(h.digest())
    time.sleep(0.04)
    with counter.get_lock():
        counter.value += 1
    return i, h.hexdigest()[:16]


if __name__ == "__main__":
    mp.set_start_method("fork")
    c = mp.Value("i", 0)
    with mp.Pool(2, initializer=init, initargs=(c,)) as pool:
        for i, d in pool.imap(work, range(100)):
            print(i, d, flush=True)
    print("done", c.value, flush=True)
