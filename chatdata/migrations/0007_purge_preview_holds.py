from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("chatdata", "0006_audit_no_truncate")]

    operations = [
        migrations.AddField(
            model_name="purgerequest",
            name="preview_holds",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
