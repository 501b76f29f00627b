from datetime import timedelta

from django.db import migrations, models
from django.db.models import F


def expire_like_staff_tokens(apps, schema_editor):
    # Tokens issued before lifetimes existed get the shorter (staff) one, counted from issue.
    UserToken = apps.get_model("common", "UserToken")
    UserToken.objects.update(expires_at=F("created_at") + timedelta(hours=12))


class Migration(migrations.Migration):
    dependencies = [
        ("common", "0003_outbox_message"),
    ]

    operations = [
        migrations.AddField(
            model_name="usertoken",
            name="kind",
            field=models.CharField(
                choices=[("staff", "Staff login"), ("customer", "Customer login")],
                default="staff",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="usertoken",
            name="expires_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(expire_like_staff_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="usertoken",
            name="expires_at",
            field=models.DateTimeField(),
        ),
    ]
