"""Memory freed between stages goes back to the system (issue 20).

NumPy's arrays below the C library's mmap threshold live in its heap; freed, they stay
resident until something trims the heap. ``release_unused_memory`` is called after each
stage and before publishing; this holds it to handing such memory back. It runs in a
fresh interpreter, so what the test suite allocated before does not blur the figure.
"""
import os
import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent("""
    import numpy as np, psutil, pyarrow
    import flows.runtime as runtime
    rss = lambda: psutil.Process().memory_info().rss
    held = [np.ones(2**20 // 8) for _ in range(300)]     # 300 arrays of 1 MB, in the heap
    pin = np.ones(2**20 // 8)                            # above them: free() cannot trim the top
    del held
    before = rss()
    runtime.release_unused_memory()
    print((before - rss()) // 2**20)
""")


# glibc's thresholds fixed, so the heap's state at start (what the interpreter imported)
# cannot decide where the arrays go: 1 MB arrays in the heap, and free() never trims it
GLIBC_TUNING = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**40)}


def test_release_unused_memory_hands_freed_heap_memory_back():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True,
                          env={**os.environ, **GLIBC_TUNING})
    assert int(done.stdout.strip()) >= 200, done.stdout + done.stderr
