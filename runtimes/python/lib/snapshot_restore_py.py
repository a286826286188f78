"""SnapStart runtime hooks, as AWS's Snapshot Restore for Python library (snapshot-restore-py)
offers them to functions on Lambda's python runtimes; nubo's runtime client puts this folder at
the end of sys.path, so `from snapshot_restore_py import ...` works without packaging it.

    @register_before_snapshot    runs before the snapshot of a published version is taken
    @register_after_restore      runs in each instance restored from it, before its first event

or register_before_snapshot(func, *args, **kwargs) / register_after_restore(func, *args,
**kwargs). Before-snapshot hooks run in the reverse order of registration, after-restore hooks in
the order of registration (Lambda's rule). Functions without SnapStart never run them.
"""

_before_snapshot = []
_after_restore = []


def register_before_snapshot(func, *args, **kwargs):
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func, *args, **kwargs):
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot():
    """(func, args, kwargs) in the order of registration."""
    return list(_before_snapshot)


def get_after_restore():
    """(func, args, kwargs) in the order of registration."""
    return list(_after_restore)
