"""Core: what every layer uses. Errors (VidsegError, ConfigError, the FAILED: mark), atomic writes, job
logs, code digests and file hashes (provenance), downloads, what the CPU can do (cpu).

Layer 1 of the package (bottom): may import no other vidseg module outside vidseg.core.
"""
