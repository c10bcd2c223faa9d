import threading
import time

from vj.mailbox import BoundedInbox, Mailbox


def test_mailbox_keeps_only_the_newest_and_counts_the_rest():
    m = Mailbox()
    assert m.take() is None
    for i in range(5):
        m.put(i)
    assert m.take() == 4
    assert m.take() is None  # taken once
    assert m.peek() == 4
    assert m.overwritten == 4


def test_mailbox_writer_never_waits_for_a_slow_reader():
    m = Mailbox()
    done = threading.Event()

    def writer():
        for i in range(10000):
            m.put(i)
        done.set()

    threading.Thread(target=writer).start()
    assert done.wait(5)  # nobody read; the writer finished anyway
    assert m.take() == 9999


def test_mailbox_wait_wakes_on_put():
    m = Mailbox()
    threading.Timer(0.05, m.put, args=("x",)).start()
    t0 = time.monotonic()
    assert m.wait(5.0) == "x"
    assert time.monotonic() - t0 < 4.0  # woke on the put, not at the timeout


def test_inbox_is_bounded_and_drops_the_oldest():
    q = BoundedInbox(3)
    for i in range(5):
        q.put(i)
    assert list(q.drain()) == [2, 3, 4]
    assert q.dropped == 2
    assert list(q.drain()) == []
