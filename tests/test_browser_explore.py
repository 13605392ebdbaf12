"""The explorer page in headless Chromium: it loads with no console errors and no network
request but itself; the buttons, arrow keys and slider step through it, moving the highlighted
node and changing the rule; gradients show only once the sweep reaches a node; the debugger
names the first wrong step. Skips (saying why) without chromium and chromedriver."""
import pytest

import tests.browser
import viz
from tests.browser import chromium, console_errors, network_requests
from tests.test_explore import planted_bug, two_layer


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tape, loss, X, y, params, V = two_layer()
    explorer = viz.explore(tape, loss, inputs={"X": X, "y": y},
                           hand_derived=planted_bug(params, X, y), layout="layered")
    path = explorer.save(tmp_path_factory.mktemp("explore") / "page.html")
    return path, explorer


@pytest.fixture
def opened(browser, page):
    path, explorer = page
    browser.get(path.as_uri())
    return browser, explorer, path


def by_id(driver, name):
    return driver.find_element("id", name)


def current_node(driver):
    found = driver.find_elements("css selector", "#graph .node.current")
    assert len(found) == 1
    return found[0].get_attribute("id")


def badges(driver):
    """node id -> the gradient text it shows (empty: none)."""
    return {g.get_attribute("id"): g.find_element("css selector", ".badge").text
            for g in driver.find_elements("css selector", "#graph .node")}


def test_loads_without_errors_or_network(opened):
    driver, explorer, path = opened
    assert console_errors(driver) == []
    assert network_requests(driver) == [path.as_uri()]
    assert len(driver.find_elements("css selector", "#graph .node")) == len(explorer.data["nodes"])
    assert by_id(driver, "step-label").text.startswith(f"step 1 / {len(explorer.steps)}")


def test_buttons_and_keys_move_the_highlight_and_the_rule(opened):
    driver, explorer, _ = opened
    before, rule = current_node(driver), by_id(driver, "rule").text
    assert by_id(driver, "back").get_attribute("disabled") and rule == explorer.steps[0]["rule"]
    by_id(driver, "forward").click()
    assert current_node(driver) != before and by_id(driver, "rule").text != rule
    assert current_node(driver) == "node-" + explorer.steps[1]["node"]
    by_id(driver, "graph").click()  # (the keys go to the page, not to a control)
    body = driver.find_element("tag name", "body")
    body.send_keys("\ue014")  # ArrowRight
    assert by_id(driver, "rule").text == explorer.steps[2]["rule"]
    body.send_keys("\ue012")  # ArrowLeft
    assert by_id(driver, "rule").text == explorer.steps[1]["rule"]
    body.send_keys("\ue010")  # End
    assert by_id(driver, "rule").text == explorer.steps[-1]["rule"]
    assert by_id(driver, "forward").get_attribute("disabled")
    by_id(driver, "first").click()
    assert current_node(driver) == before
    assert console_errors(driver) == []


def test_gradients_appear_only_once_the_sweep_reaches_a_node(opened):
    driver, explorer, _ = opened
    steps = explorer.steps
    first = next(k for k, s in enumerate(steps) if s["kind"] == "backward")
    for s in (0, first - 1):
        driver.execute_script(f"window.explorer.go({s})")
        assert not any(badges(driver).values())
        assert "not computed yet" in by_id(driver, "grad").text
        assert driver.find_elements("css selector", ".node.agree, .node.disagree") == []
    by_id(driver, "forward").click()  # the first VJP: the seed and its first receiver only
    shown = {k for k, v in badges(driver).items() if v}
    target = next(n["id"] for n in explorer.data["nodes"] if n["target"])
    assert shown == {"node-" + target, "node-" + steps[first]["to"]}
    assert driver.find_elements("css selector", ".node.receiving")[0].get_attribute("id") == \
        "node-" + steps[first]["to"]
    by_id(driver, "last").click()
    reached = {k for k, v in badges(driver).items() if v}
    leaves = {"node-" + n["id"] for n in explorer.data["nodes"] if n["kind"] == "param"}
    assert leaves <= reached
    assert "dW1" in by_id(driver, "grad").text
    assert driver.find_elements("css selector", "#panel canvas.heat")  # matrices as heat maps


def test_slider_steps(opened):
    driver, explorer, _ = opened
    slider = by_id(driver, "slider")
    slider.send_keys("\ue010")  # End on the slider itself: its own input event
    assert by_id(driver, "step-label").text.startswith(f"step {len(explorer.steps)} /")
    slider.send_keys("\ue012")
    assert by_id(driver, "rule").text == explorer.steps[-2]["rule"]
    assert int(slider.get_attribute("value")) == len(explorer.steps) - 2


def test_debugger_names_and_shows_the_first_wrong_step(opened):
    driver, explorer, _ = opened
    banner = by_id(driver, "first-wrong")
    assert banner.is_displayed() and "hidden_pre" in banner.text and "add" in banner.text
    banner.find_element("tag name", "button").click()
    wrong = driver.find_elements("css selector", ".node.first-disagree")
    assert [w.find_element("css selector", "text").text for w in wrong] == ["add"]
    assert "hidden_pre" in wrong[0].text
    assert console_errors(driver) == []


def test_skips_without_chromium(monkeypatch):
    monkeypatch.setattr(tests.browser, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.skip.Exception, match="run `make setup`"):
        with chromium():
            pass
