from care_messaging.components.session_timer import timer_phase


def test_timer_phases():
    assert timer_phase(0, 60) == "expired"
    assert timer_phase(-5, 60) == "expired"
    assert timer_phase(30, 60) == "warn"
    assert timer_phase(60, 60) == "warn"
    assert timer_phase(61, 60) == "ok"
