import re

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from chat.models import Assistant, Run, Thread
from tests.admin_pages import admin_url

pytestmark = pytest.mark.django_db


def test_signing_up_logs_in_and_provides_a_math_tutor_named_as_a_starter(client, django_user_model):
    response = client.post(
        reverse("chat:signup"),
        {"username": "carol", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assertRedirects(response, reverse("chat:threads"))
    carol = django_user_model.objects.get(username="carol")
    starter = Assistant.objects.get(owner=carol)
    # A new tutor must not take it for an assistant they set up: its name and description say what it is.
    assert starter.name == "Math Tutor (starter)" and "starter assistant made with your account" in starter.description
    assertContains(client.get(reverse("chat:threads")), "New conversation")
    assertContains(client.get(reverse("chat:assistants")), "Math Tutor (starter)")


def test_sign_up_from_an_invite_link_returns_to_it(client):
    """Log in -> "Sign up" keeps where the visitor was going (a class's invite link)."""
    login_page = client.get(reverse("login") + "?next=/join/ABCD2345/").content.decode()
    assert 'href="/signup/?next=/join/ABCD2345/"' in login_page
    signup_page = client.get("/signup/?next=/join/ABCD2345/").content.decode()
    assert 'name="next" value="/join/ABCD2345/"' in signup_page and 'href="/accounts/login/?next=/join/ABCD2345/"' in signup_page
    passphrase = "a-long-pass-phrase-9"
    response = client.post("/signup/", {"username": "erin", "password1": passphrase, "password2": passphrase, "next": "/join/ABCD2345/"})
    assertRedirects(response, "/join/ABCD2345/", fetch_redirect_response=False)


def test_sign_up_never_sends_a_new_account_to_another_site(client):
    assert "evil.example" not in client.get("/signup/?next=https://evil.example/").content.decode()
    passphrase = "a-long-pass-phrase-9"
    response = client.post("/signup/?next=https://evil.example/", {"username": "fay", "password1": passphrase, "password2": passphrase})
    assertRedirects(response, reverse("chat:threads"))


def test_a_weak_password_is_refused_at_sign_up(client, django_user_model):
    response = client.post(reverse("chat:signup"), {"username": "dave", "password1": "123", "password2": "123"})
    assert response.status_code == 400 and not django_user_model.objects.filter(username="dave").exists()


def test_log_in_and_log_out(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})
    assertRedirects(response, reverse("chat:threads"))
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("chat:threads")).status_code == 302


def test_admin_edits_assistants_and_only_reads_runs(client, django_user_model, thread, tutor):
    admin = django_user_model.objects.create_superuser("root", password="root-pass-1")
    client.force_login(admin)
    run = Run.objects.create(thread=thread, assistant=tutor, model="offline", status="completed")
    assert client.get(admin_url("admin:chat_assistant_change", tutor.id)).status_code == 200
    assert client.get(reverse("admin:chat_run_changelist")).status_code == 200
    page = client.get(admin_url("admin:chat_run_change", run.id))
    assert page.status_code == 200 and b'name="status"' not in page.content  # read-only
    assert client.get(reverse("admin:chat_thread_add")).status_code == 403
    assert client.post(admin_url("admin:chat_thread_delete", thread.id), {"post": "yes"}).status_code == 403
    assert Thread.objects.filter(pk=thread.pk).exists()


def test_the_admin_finds_an_object_whose_id_reads_like_an_escape(client, django_user_model, alice):
    """The admin reads "_2B" in an id as "+": tests that typed raw ids failed whenever a
    random id began that way (CI, 2026-12-01). Its own quoted addresses find the object."""
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pass-1"))
    assistant = Assistant.objects.create(id="asst_2B2LCyC9p13DY9X6ZAY9Sn0A", owner=alice, name="Escaped", model="offline")
    assert client.get(reverse("admin:chat_assistant_change", args=[assistant.id])).status_code == 302  # the trap
    assert client.get(admin_url("admin:chat_assistant_change", assistant.id)).status_code == 200


def test_the_admin_cannot_rename_a_thread_behind_its_open_pages(client, django_user_model, thread):
    """A title changes only through services.threads.rename_thread, which tells the open
    pages: the admin's thread change form is read-only, and a POST to it changes nothing."""
    admin = django_user_model.objects.create_superuser("root", password="root-pass-1")
    client.force_login(admin)
    change = admin_url("admin:chat_thread_change", thread.id)
    page = client.get(change)
    assert page.status_code == 200 and b'name="title"' not in page.content
    assert client.post(change, {"title": "Renamed behind its pages"}).status_code == 403
    thread.refresh_from_db()
    assert thread.title == "Algebra"


def test_a_failed_login_says_why_once(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert response.content.decode().count("Please enter a correct username and password") == 1


def test_every_page_links_its_icon_and_favicon_ico_leads_to_it(client):
    page = client.get(reverse("login")).content.decode()
    icon = page.split('<link rel="icon" href="')[1].split('"')[0]
    assert client.get(icon).status_code == 200
    redirect = client.get("/favicon.ico")
    assert redirect.status_code == 301 and redirect["Location"] == icon


def test_the_login_page_offers_a_password_reset(client):
    assertContains(client.get(reverse("login")), f'<a href="{reverse("password_reset")}">Forgot password?</a>', html=True)


def test_a_forgotten_password_is_reset_through_the_emailed_link(client, alice, mailoutbox):
    alice.email = "alice@example.com"
    alice.save()
    form = client.get(reverse("password_reset"))
    assertContains(form, "Reset your password")
    assertContains(form, 'class="card narrow"')  # the site's own page, not the admin's
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"}, follow=True)
    assertContains(response, "Check your e-mail")
    (mail,) = mailoutbox
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.body).group(1)
    choose = client.get(link, follow=True)
    assertContains(choose, "Choose a new password")
    done = client.post(choose.redirect_chain[-1][0], {"new_password1": "a-fresh-pass-phrase-7", "new_password2": "a-fresh-pass-phrase-7"}, follow=True)
    assertContains(done, "Password set")
    alice.refresh_from_db()
    assert alice.check_password("a-fresh-pass-phrase-7")


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assertContains(response, "Check your e-mail")
    assert mailoutbox == []


def test_changing_the_password_uses_the_sites_page(alice_client):
    page = alice_client.get(reverse("password_change"))
    assertContains(page, "Change password")
    assertContains(page, 'class="card narrow"')
    response = alice_client.post(
        reverse("password_change"),
        {"old_password": "alice-password-1", "new_password1": "a-fresh-pass-phrase-7", "new_password2": "a-fresh-pass-phrase-7"},
        follow=True,
    )
    assertContains(response, "Password changed")

