"""`manage.py serve_demo`: runserver (with static files) that prints the demo's links and logins
once it listens, so they are the last lines on the screen and name the port it really bound."""

from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand

from common.management.commands.seed_demo import demo_summary


class Command(RunserverCommand):
    help = "Serve the demo retailer (like runserver) and print its links and logins last."

    def on_bind(self, server_port):
        super().on_bind(server_port)
        self.stdout.write(demo_summary(port=server_port, style=self.style))
