"""An e-mail backend for the worker-killed test: armed, it announces itself and hangs once."""

import os
import time
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend


class HangOnceBackend(EmailBackend):
    def send_messages(self, email_messages):
        folder = Path(os.environ["OMNIS_TEST_HANG_DIR"])
        armed = folder / "armed"
        if armed.exists():
            armed.unlink()
            (folder / "hanging").touch()
            time.sleep(120)  # killed here by the test
        return super().send_messages(email_messages)
