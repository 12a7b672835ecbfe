import os

# Keep the two frameworks from oversubscribing the small CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
