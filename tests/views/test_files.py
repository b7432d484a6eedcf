import pytest
from django.urls import reverse

from chat.files import FileTooLarge, clean_filename, store_file

pytestmark = pytest.mark.django_db


def test_a_stored_file_is_downloadable_by_its_owner_only(alice, alice_client, bob_client):
    record = store_file(alice, "notes.txt", b"x = 1\n")
    assert record.id.startswith("file-") and record.bytes == 6 and len(record.sha256) == 64
    url = reverse("chat:file_content", args=[record.id])
    response = alice_client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"x = 1\n"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert bob_client.get(url).status_code == 404


def test_images_may_be_shown_inline_but_html_never(alice, alice_client):
    png = store_file(alice, "plot.png", b"\x89PNG\r\n\x1a\n")
    page = store_file(alice, "evil.html", b"<script>alert(1)</script>")
    inline = alice_client.get(reverse("chat:file_content", args=[png.id]) + "?inline=1")
    assert inline["Content-Type"] == "image/png" and inline["Content-Disposition"].startswith("inline")
    html = alice_client.get(reverse("chat:file_content", args=[page.id]) + "?inline=1")
    assert html["Content-Type"] == "application/octet-stream" and html["Content-Disposition"].startswith("attachment")


def test_file_names_lose_their_paths_and_control_characters():
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\x\\report.pdf") == "report.pdf"
    assert clean_filename("a\x00b\nc.txt") == "abc.txt"
    assert clean_filename("") == "file"


def test_a_file_over_the_limit_is_refused(alice, settings):
    settings.FILE_MAX_BYTES = 10
    with pytest.raises(FileTooLarge, match="limit is 10 bytes"):
        store_file(alice, "big.bin", b"x" * 11)


def test_files_are_stored_under_their_id_not_their_name(alice):
    record = store_file(alice, "../../../escape.txt", b"hi")
    assert record.data.name == f"files/{alice.pk}/{record.id}"
