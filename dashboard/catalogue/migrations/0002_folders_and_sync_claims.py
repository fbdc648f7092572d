"""ModelFile.folder (a sync compares one folder at a time); SyncRun claim, heartbeat, rerun flag and
at most one running sync per endpoint."""

from django.db import migrations, models


def fill_folders(apps, schema_editor):
    ModelFile = apps.get_model("catalogue", "ModelFile")
    for row in ModelFile.objects.filter(folder="").only("pk", "path").iterator():
        row.folder = row.path.rsplit("/", 1)[0] + "/" if "/" in row.path else ""
        row.save(update_fields=["folder"])


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="modelfile",
            name="folder",
            field=models.CharField(blank=True, max_length=1000),
        ),
        migrations.RunPython(fill_folders, migrations.RunPython.noop),
        migrations.AddField(
            model_name="syncrun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="rerun_requested",
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name="modelfile",
            index=models.Index(fields=["endpoint", "folder"], name="model_file_folder"),
        ),
        migrations.AddConstraint(
            model_name="syncrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "running")),
                fields=("endpoint",),
                name="sync_run_one_running_per_endpoint",
            ),
        ),
    ]
