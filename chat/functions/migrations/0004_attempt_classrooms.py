from django.db import migrations


def classrooms_of_attempts(apps, schema_editor):
    """Attempts taken before the class was kept on them: the class of their conversation."""
    QuizAttempt = apps.get_model("functions", "QuizAttempt")
    ClassThread = apps.get_model("classes", "ClassThread")
    for link in ClassThread.objects.filter(thread__quiz_attempts__isnull=False).distinct().iterator():
        QuizAttempt.objects.filter(thread_id=link.thread_id).update(classroom_id=link.classroom_id)


class Migration(migrations.Migration):
    dependencies = [
        ("functions", "0003_attempts_outlive_conversations"),
    ]

    operations = [
        migrations.RunPython(classrooms_of_attempts, migrations.RunPython.noop),
    ]
