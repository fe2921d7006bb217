"""A python3 job: a slow deterministic computation that prints as it goes."""
import hashlib
import time

h = hashlib.sha256()
for i in range(60):
    h.update(str(i * i).encode())
    print(i, h.hexdigest()[:16], flush=True)
    time.sleep(0.05)
print("done", h.hexdigest())
