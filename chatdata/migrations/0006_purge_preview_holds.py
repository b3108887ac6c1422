from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("chatdata", "0005_audit_append_only")]

    operations = [
        migrations.AddField(
            model_name="purgerequest",
            name="preview_holds",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
