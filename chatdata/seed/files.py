"""Attachment files of the demo data, written to Django's default storage.

On a local FileSystemStorage the file is written directly at `storage.path(name)`: the same file
`storage.save()` would write, without its per-call overhead (name validation, an existence probe and
a makedirs for every file: about 4x the time, seconds at a million messages). Any other storage
goes through `save()`. Should the storage pick another name than the one asked for (a stray file
of that name already there), `renamed` records it and `fix_renamed_rows()` corrects the rows.

Files are not transactional: if the load fails, the files written so far are removed again, so a
failed seed leaves neither rows nor orphan files behind.
"""

import os
from contextlib import contextmanager

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage


class AttachmentFiles:
    def __init__(self):
        self.names = []
        self.bytes = 0
        self.renamed = {}  # attachment id -> the name the storage chose instead
        self.directories = set()
        self.local = isinstance(default_storage, FileSystemStorage) and default_storage.directory_permissions_mode is None

    def store(self, row):
        """Write the content of a generated attachment row; return the row as the table stores it."""
        pk, message_id, name, size, content_type, data = row
        stored = self._write(name, data)
        self.names.append(stored)
        self.bytes += size
        if stored != name:
            self.renamed[pk] = stored
        return pk, message_id, name, size, content_type

    def _write(self, name, data):
        if not self.local:
            return default_storage.save(name, ContentFile(data))
        path = default_storage.path(name)
        directory = os.path.dirname(path)
        if directory not in self.directories:
            os.makedirs(directory, exist_ok=True)
            self.directories.add(directory)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            return default_storage.save(name, ContentFile(data))  # let the storage pick another name
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        if default_storage.file_permissions_mode is not None:
            os.chmod(path, default_storage.file_permissions_mode)
        return name

    def fix_renamed_rows(self):
        """Point rows at the names the storage actually chose (rare)."""
        from chatdata.models import Attachment

        for pk, name in self.renamed.items():
            Attachment._base_manager.filter(pk=pk).update(file=name)

    def discard(self):
        for name in self.names:
            default_storage.delete(name)
        self.names.clear()


@contextmanager
def stored_attachments():
    files = AttachmentFiles()
    try:
        yield files
    except BaseException:
        files.discard()
        raise
