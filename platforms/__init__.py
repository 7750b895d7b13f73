"""Platform adapters: what a platform has (devices, memory, storage, time limit) and how to detect it."""
