from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("retrieval", "0007_chunk_terms_fill")]

    operations = [
        migrations.AddField(model_name="chunk", name="section", field=models.TextField(blank=True, null=True)),
    ]
