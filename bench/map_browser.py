"""map_browser.py - the browser half of bench/map-browser.sh: opens a page of `embedpipe map --html` in
Debian's chromium (headless, software rendering) and measures, through the DevTools protocol on a pipe
(--remote-debugging-pipe: no port, no websocket library, the standard library only):

- the page's size;
- the time to the first drawn map: the page's own clock (performance.now() at the end of its first
  draw, counted from the navigation's start) and the wall time from Page.navigate to that moment;
- the frame time while panning and zooming: real input events (Input.dispatchMouseEvent: a drag of
  PAN_STEPS moves, then ZOOM_STEPS wheel turns about the centre), each followed by one animation frame;
  per step the wall time from the event to the frame after it, and the page's own time in draw() (its
  window.epState().drawMs, the last draws' milliseconds); the full draw once the map rests;
- the first hover (which builds the picking grid and joins the texts) and a search for "love", timed by
  the page's clock.

Usage: python3 bench/map_browser.py PAGE.html [--chromium PATH] [--size 1280x800] [--json OUT.json]
"""
import argparse
import fcntl
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PAN_STEPS, ZOOM_STEPS = 60, 40


class DevTools:
    """The DevTools protocol over chromium's --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, chromium, size, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def fds():
            # via copies above 9: either end may itself be 3 or 4, and dup2 onto itself would keep close-on-exec
            a, b = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [chromium, "--headless=new", "--enable-unsafe-swiftshader", "--no-sandbox", "--no-first-run",
                "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}", "about:blank"]
        # close_fds=False: Popen would close 3 and 4 after preexec_fn made them; every other descriptor
        # of this process is close-on-exec (os.pipe's default), so only these two reach chromium
        self.proc = subprocess.Popen(args, preexec_fn=fds, close_fds=False, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf, self.next_id, self.events, self.session = b"", 0, [], None

    def _read(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method, timeout):
        end = time.time() + timeout
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read())
        raise RuntimeError(f"no {method} within {timeout} s")

    def js(self, expression, await_promise=False):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


NEXT_FRAME = "new Promise(r => requestAnimationFrame(() => r(performance.now())))"


def summary(ms):
    ms = sorted(ms)
    return {"median": round(statistics.median(ms), 1), "p95": round(ms[int(0.95 * (len(ms) - 1))], 1),
            "max": round(ms[-1], 1), "n": len(ms)}


def measure(dt, page, size):
    dt.call("Page.enable")
    dt.call("Runtime.enable")
    t0 = time.perf_counter()
    dt.call("Page.navigate", url="file://" + os.path.abspath(page))
    dt.wait_event("Page.loadEventFired", 600)
    t_load = time.perf_counter() - t0
    state = None
    while time.perf_counter() - t0 < 600:
        state = dt.js("window.epState ? window.epState() : null")
        if state and state.get("firstDrawMs") is not None:
            break
        time.sleep(0.05)
    t_first_wall = time.perf_counter() - t0
    rect = dt.js("(function(){var r=document.getElementById('cv').getBoundingClientRect();"
                 "return [r.left, r.top, r.width, r.height];})()")
    cx, cy = rect[0] + rect[2] / 2, rect[1] + rect[3] / 2
    dt.js(NEXT_FRAME, True)
    steps = {"pan": [], "zoom": []}
    draws_before = len(dt.js("window.epState().drawMs"))
    dt.call("Input.dispatchMouseEvent", type="mousePressed", x=cx, y=cy, button="left", buttons=1, clickCount=1)
    for k in range(PAN_STEPS):
        t = time.perf_counter()
        dt.call("Input.dispatchMouseEvent", type="mouseMoved", x=cx + 4 * (k + 1), y=cy + 2 * (k + 1), button="left",
                buttons=1)
        dt.js(NEXT_FRAME, True)
        steps["pan"].append(1000 * (time.perf_counter() - t))
    dt.call("Input.dispatchMouseEvent", type="mouseReleased", x=cx + 4 * PAN_STEPS, y=cy + 2 * PAN_STEPS,
            button="left", buttons=0, clickCount=1)
    pan_draws = dt.js("window.epState().drawMs")[draws_before:]
    draws_before = len(dt.js("window.epState().drawMs"))
    for k in range(ZOOM_STEPS):
        t = time.perf_counter()
        dt.call("Input.dispatchMouseEvent", type="mouseWheel", x=cx, y=cy, deltaX=0, deltaY=-120 if k < ZOOM_STEPS // 2 else 120)
        dt.js(NEXT_FRAME, True)
        steps["zoom"].append(1000 * (time.perf_counter() - t))
    zoom_draws = dt.js("window.epState().drawMs")[draws_before:]
    # the first hover (builds the picking grid, joins the texts) and a search, each timed by the page's clock
    hover = dt.js("(function(){var t=performance.now(), r=document.getElementById('cv').getBoundingClientRect();"
                  "document.getElementById('cv').dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width / 2,"
                  " clientY: r.top + r.height / 2, bubbles: true}));"
                  "return [performance.now() - t, window.epState().hoverRow];})()")
    found = dt.js("(function(){var b=document.getElementById('q'), t=performance.now(); b.value='love';"
                  "b.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'})); var ms=performance.now()-t;"
                  "var n=window.epState().marked; b.value=''; b.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));"
                  "return [ms, n];})()")
    # the map at rest again (the page draws every row once the moves stop): that full draw's time
    time.sleep(0.6)
    dt.js(NEXT_FRAME, True)
    final = dt.js("(function(){var s=window.epState(); s.lastDrawMs = s.drawMs[s.drawMs.length - 1]; "
                  "s.firstFullDrawMs = s.drawMs[0]; delete s.drawMs; return s;})()")
    return {"load_event_s": round(t_load, 2), "first_draw_wall_s": round(t_first_wall, 2),
            "first_draw_page_ms": round(state["firstDrawMs"], 0) if state else None,
            "pan_step_ms": summary(steps["pan"]), "pan_draw_ms": summary(pan_draws) if pan_draws else None,
            "zoom_step_ms": summary(steps["zoom"]), "zoom_draw_ms": summary(zoom_draws) if zoom_draws else None,
            "full_draw_ms": {"first": round(final["firstFullDrawMs"], 1), "at_rest_after_moves": round(final["lastDrawMs"], 1)},
            "first_hover_ms": round(hover[0], 1), "hover_row": hover[1],
            "search_love_ms": round(found[0], 1), "search_love_matches": found[1],
            "start_ms": {k: round(v) for k, v in (state or {}).get("timing", {}).items()},
            "points": final["points"], "drawn_at_rest": final["drawn"], "pixels_at_rest": final["pixels"]}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    ap.add_argument("--size", default="1280x800")
    ap.add_argument("--json")
    args = ap.parse_args()
    if not args.chromium:
        sys.exit("map_browser.py: chromium not found (apt-get install chromium)")
    size = tuple(int(v) for v in args.size.split("x"))
    version = subprocess.run([args.chromium, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as profile:
        dt = DevTools(args.chromium, size, profile)
        try:
            browser = dt.call("Browser.getVersion")
            targets = dt.call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            dt.session = dt.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
            result = measure(dt, args.page, size)
        finally:
            dt.close()
    result.update({"page": os.path.basename(args.page), "bytes": os.path.getsize(args.page), "window": args.size,
                   "browser": version or browser.get("product"), "cpu": cpu_name(), "cores": os.cpu_count(),
                   "load_average": os.getloadavg()[0]})
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
