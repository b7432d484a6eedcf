from datetime import UTC, datetime, timedelta, timezone

from chat.templatetags.local_time import ago, local_time, utc_label

NOW = datetime(2026, 11, 30, 2, 30, tzinfo=UTC)


def test_a_time_today_is_labelled_utc_without_a_date():
    assert utc_label(datetime(2026, 11, 30, 1, 5, tzinfo=UTC), NOW) == "01:05 UTC"


def test_a_time_on_another_day_carries_its_date_and_another_year_its_year():
    assert utc_label(datetime(2026, 11, 29, 23, 59, tzinfo=UTC), NOW) == "29 Nov, 23:59 UTC"
    assert utc_label(datetime(2025, 3, 4, 10, 0, tzinfo=UTC), NOW) == "4 Mar 2025, 10:00 UTC"


def test_a_moment_in_another_zone_is_shown_in_utc():
    tokyo = timezone(timedelta(hours=9))
    assert utc_label(datetime(2026, 11, 30, 10, 0, tzinfo=tokyo), NOW) == "01:00 UTC"


def test_the_time_element_carries_the_exact_moment_for_the_readers_browser():
    html = local_time(datetime(2026, 11, 29, 23, 59, 7, 500, tzinfo=UTC))
    assert html.startswith('<time datetime="2026-11-29T23:59:07+00:00" data-local-time>')
    assert local_time(None) == ""


def test_ago_says_just_now_under_a_minute_and_counts_after():
    assert ago(NOW - timedelta(seconds=20), NOW) == "just now"
    assert ago(NOW - timedelta(minutes=5), NOW) == "5\xa0minutes ago"
    assert ago(None) == ""
