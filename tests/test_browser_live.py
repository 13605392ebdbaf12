"""The live training page in headless Chromium while a real (short) training runs: no console
errors, nothing fetched but the page and its state, the curves grow, and the page says
"training stopped" when the training and its server are gone."""
import threading
import time

import numpy as np
import pytest

from tensorflowlite_clone.app import cli, data, live, training
from tensorflowlite_clone.optim import Adam
from tests.browser import chromium, console_errors, network_requests

ITERATIONS = 250
STEP_PAUSE = 0.01  # seconds per iteration on top of the step: ~3 s of training to watch


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def train_in_background(view_ready):
    """Two-layer net on digits, inside a LiveTraining, in a thread; the view through
    `view_ready` (a dict with an Event)."""
    ds = data.load("digits")
    np.random.seed(0)
    model = cli.new_model("two-layer", 64, 10, 50, 0.17)

    def on_step(it, loss, evaluated):
        view.on_step(it, loss, evaluated)
        time.sleep(STEP_PAUSE)  # slowed so that there is something to watch

    def run():
        nonlocal view
        try:
            with live.LiveTraining(model, port=0, batch=(ds.X_train[:32], ds.y_train[:32]),
                                   reg=1e-3, image_shape=ds.image_shape) as view:
                view_ready["view"] = view
                view_ready["event"].set()
                training.fit(model, ds.X_train, ds.y_train,
                             lambda X, y: cli.loss_and_grads(model, X, y, 1e-3, "autodiff"),
                             optimizer=Adam(1e-3), num_iters=ITERATIONS, batch_size=100,
                             val=(ds.X_val, ds.y_val), at_epoch="end", on_step=on_step,
                             history=view.history)
        finally:
            view_ready["event"].set()
    view = None
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def attribute_count(browser, selector, attribute):
    return browser.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? Number(e.getAttribute(arguments[1]) || 0) : 0;", selector, attribute)


def test_the_live_page_follows_training_and_then_says_stopped(browser):
    ready = {"event": threading.Event()}
    thread = train_in_background(ready)
    assert ready["event"].wait(10) and "view" in ready, "the live view did not start"
    view = ready["view"]
    network_requests(browser)  # forget what came before
    console_errors(browser)
    browser.get(view.url)

    points = lambda: attribute_count(browser, "#loss-chart polyline", "data-points")  # noqa: E731
    first = wait_for(points, 5, "the first loss points")
    wait_for(lambda: points() > first, 5, "the loss curve to grow")
    wait_for(lambda: browser.execute_script(
        "return document.querySelectorAll('#grad-chart polyline').length") == 4, 5,
        "a gradient-norm curve per parameter")
    assert "training" in browser.find_element("id", "status").text
    assert attribute_count(browser, "#weights", "data-images") == 50
    graded = browser.execute_script(
        "return [...document.querySelectorAll('#graph g.node')].filter("
        "g => Number(g.getAttribute('data-grad')) > 0).length")
    assert graded >= 10, "the graph's nodes show their gradient norms"
    assert console_errors(browser) == []
    requests = set(network_requests(browser))
    assert view.url in requests
    assert all(url == view.url or url.startswith(view.url + "state?") for url in requests), requests

    thread.join(20)
    assert not thread.is_alive(), "training did not finish"
    wait_for(lambda: "training stopped" in browser.find_element("id", "status").text, 5,
             "the page to say that training stopped")
    # the last curves stay: all the iterations that ran
    assert points() == ITERATIONS


def test_the_page_follows_the_tflc_train_live_command(browser, tmp_path):
    """The command itself, as a user runs it: its printed URL serves the page, whose loss curve
    grows while it trains; Ctrl-C (SIGINT) stops training and server, and the page says so."""
    import signal
    import subprocess
    import sys

    run = subprocess.Popen([sys.executable, "-m", "tensorflowlite_clone", "train", "--model",
                            "two-layer", "--iters", "200000", "--quiet", "--live", "--port", "0",
                            "--out", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        line = next(line for line in run.stdout if line.startswith("live view:"))
        url = line.split()[2]
        console_errors(browser)
        browser.get(url)
        points = lambda: attribute_count(browser, "#loss-chart polyline", "data-points")  # noqa: E731
        first = wait_for(points, 10, "the first loss points")
        wait_for(lambda: points() > first, 10, "the loss curve to grow")
        assert console_errors(browser) == []
        run.send_signal(signal.SIGINT)
        assert run.wait(20) == 130
        wait_for(lambda: "training stopped" in browser.find_element("id", "status").text, 10,
                 "the page to say that training stopped")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
