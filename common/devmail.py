"""E-mail for `make run`: each message is written in full to EMAIL_FILE_PATH and announced in one
line on the console, so the console stays readable and the e-mail can still be opened."""

import sys

from django.core.mail.backends.filebased import EmailBackend


class SummaryFileBackend(EmailBackend):
    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        for message in email_messages[:sent]:
            sys.stdout.write(
                f"E-mail to {', '.join(message.to)}: {message.subject} ({self._fname})\n"
            )
        sys.stdout.flush()
        return sent
