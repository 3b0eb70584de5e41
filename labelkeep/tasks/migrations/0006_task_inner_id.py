"""Number every task within its project (1, 2, … in id order) and remember the highest
number on the project, so new tasks continue from it."""

from django.conf import settings
from django.db import migrations, models

# Window functions and UPDATE … FROM: PostgreSQL, and SQLite from 3.33.
NUMBER_TASKS = """
UPDATE tasks_task SET inner_id = numbered.n
FROM (
    SELECT id, ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY id) AS n FROM tasks_task
) AS numbered
WHERE tasks_task.id = numbered.id
"""
REMEMBER_HIGHEST = """
UPDATE projects_project SET last_inner_id = COALESCE(
    (SELECT MAX(inner_id) FROM tasks_task WHERE tasks_task.project_id = projects_project.id), 0
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0002_project_last_inner_id"),
        ("tasks", "0005_task_annotated_id_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="inner_id",
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.RunSQL(NUMBER_TASKS, migrations.RunSQL.noop),
        migrations.RunSQL(REMEMBER_HIGHEST, migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="task",
            name="inner_id",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="task",
            constraint=models.UniqueConstraint(
                fields=("project", "inner_id"), name="task_project_inner_id"
            ),
        ),
    ]
