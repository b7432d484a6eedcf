from chat.engine.events import QuietSpell


def test_a_move_counts_as_lost_only_when_the_next_look_finds_it_still_unannounced():
    quiet = QuietSpell()
    assert not quiet.lost(True)  # its event may be on its way
    assert quiet.lost(True)  # a quiet spell later, still not heard of: read the rows
    assert not quiet.lost(True)  # read: a new move starts a new wait


def test_an_event_heard_between_two_looks_clears_the_move():
    quiet = QuietSpell()
    assert not quiet.lost(True)
    quiet.heard()
    assert not quiet.lost(True)
    assert not quiet.lost(False) and not quiet.lost(True)
