"""The project's own exceptions: errors a user can cause, with messages that say what to do."""

from __future__ import annotations


class FTIError(Exception):
    """Base class for every error this project raises on purpose.

    In a notebook IPython shows such an error as its message alone, without the library's
    frames: the message says what is wrong and what to do. The cell still fails (papermill
    stops with a non-zero exit), and ``%tb`` in a new cell shows the whole traceback.
    """

    def _render_traceback_(self) -> list[str]:  # IPython's hook for showing an exception
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}",
                "(the library's traceback: run %tb in a new cell)"]


class ParameterError(FTIError, ValueError):
    """A notebook or command parameter is malformed or inconsistent."""


class SourceError(FTIError):
    """The raw data source is missing, unreadable or asked for something it cannot give."""


class LeakageError(SourceError):
    """A pipeline asked the source for data that is not yet published at its run date."""


class ExpectationError(FTIError):
    """A raw batch failed a data expectation; nothing was written."""


class SchemaError(FTIError):
    """A batch does not match its feature group's schema; nothing was written."""


class NotFoundError(FTIError, LookupError):
    """Something asked for is not in the store or the registry."""


class RegistryError(FTIError):
    """A model file is tampered with, untrusted, or a registry operation is not allowed."""


class NotEnoughDataError(FTIError):
    """There is too little data for the step; the message says which pipeline to run."""


class DamagedFileError(FTIError):
    """A file of the store or the registry cannot be read (truncated, overwritten, not what
    its name says); the message names the file and how to repair it."""


class IncompleteWriteError(FTIError):
    """A write of several partitions as one unit stopped half-way (a crash, a full disk);
    the message names what is incomplete and the command that writes it again."""


class DiskFullError(FTIError, OSError):
    """No space was left on the device (or the quota) while writing; the message names the
    path. Nothing half-written is left at that path."""


class LockTimeoutError(FTIError):
    """Another process held the data root's lock for longer than this one would wait; the
    message names the holder."""


class StorageError(FTIError, OSError):
    """The data root's object store cannot be used; the message names the URI, the endpoint
    and the environment variable to check."""


class BucketNotFoundError(StorageError):
    """The bucket of an ``s3://`` data root does not exist at the endpoint."""


class StorageAccessError(StorageError):
    """The object store refused the credentials (an unknown key, a wrong secret, no
    permission)."""


class StorageUnreachableError(StorageError):
    """Nothing answers at the object store's endpoint (down, a wrong address, TLS vs http)."""


class LeaseLostError(FTIError):
    """This process's lease on an object-store data root expired or was taken over while it
    wrote; it stops before making anything visible."""
