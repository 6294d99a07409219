/* Sistem 48 operator console. Plain script, no build step.
 *
 * Safety rule: every value that came from a caller, an SMS, an e-mail, a transcript or a ticket is
 * inserted with textContent or DOM APIs, never innerHTML. Live events arrive on Socket.IO /operator;
 * after every (re)connect the console asks /api/v1/events?after=<last seq> for what it missed and
 * applies each event once (upsert by seq).
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("s48-config").textContent);
  var T = cfg.strings;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var clockOffset = Date.parse(cfg.server_now) - Date.now();
  var TZ = "Europe/Sarajevo";
  var LOCALE = cfg.language === "en" ? "en-GB" : cfg.language;
  var MAX_SEEN = 2000;
  var desk = cfg.role === "operator" || cfg.role === "supervisor" || cfg.role === "admin";
  var oversight = cfg.role === "supervisor" || cfg.role === "admin";

  // State the tests and the benchmark read (never fed back into the page as markup).
  var S48 = (window.S48 = {
    lastSeq: cfg.last_seq,
    seen: new Set(),
    log: [],
    eventTimes: {},
    popTimes: {},
    socket: null,
    syncing: false,
    pending: [],
  });

  // -- small helpers -------------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, props) {
    var node = document.createElement(tag);
    props = props || {};
    if (props.cls) node.className = props.cls;
    if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
    if (props.attrs) {
      Object.keys(props.attrs).forEach(function (k) {
        if (props.attrs[k] !== null && props.attrs[k] !== undefined) node.setAttribute(k, String(props.attrs[k]));
      });
    }
    if (props.on) {
      Object.keys(props.on).forEach(function (k) {
        node.addEventListener(k, props.on[k]);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) {
    while (node && node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function now() {
    return Date.now() + clockOffset;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    var sameDay = new Date(now()).toDateString() === d.toDateString();
    var opts = sameDay
      ? { hour: "2-digit", minute: "2-digit", timeZone: TZ }
      : { day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit", timeZone: TZ };
    try {
      return new Intl.DateTimeFormat(LOCALE, opts).format(d);
    } catch (e) {
      return d.toISOString().slice(0, 16).replace("T", " ");
    }
  }

  function span(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var mins = minutes % 60;
    var parts = [];
    if (days) parts.push(days + " " + T.days);
    if (hours || days) parts.push(hours + " " + T.hours);
    parts.push(mins + " " + T.minutes);
    return parts.join(" ");
  }

  function timeLeft(iso) {
    var ms = Date.parse(iso) - now();
    return ms >= 0 ? T.due_in + " " + span(ms) : T.overdue + " " + span(ms);
  }

  function statusLabel(s) {
    return (T.status && T.status[s]) || s || "";
  }

  function channelLabel(c) {
    return (T.channel && T.channel[c]) || c || "";
  }

  function toast(text, kind) {
    var box = $("toast");
    box.textContent = text;
    box.dataset.kind = kind || "ok";
    box.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () {
      box.classList.remove("show");
    }, 4000);
  }

  function api(method, url, body, form) {
    var headers = { Accept: "application/json", "X-CSRFToken": csrf };
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (form) {
      init.body = form;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      if (r.status === 401) {
        window.location.assign("/login");
      }
      return r
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          return { ok: r.ok, status: r.status, data: data };
        });
    });
  }

  function errorText(res) {
    if (res.status === 403) return T.forbidden;
    var e = res.data && res.data.error;
    return (e && e.message) || T.error + " " + res.status;
  }

  function debounce(fn, ms) {
    var t = null;
    return function () {
      var args = arguments;
      clearTimeout(t);
      t = setTimeout(function () {
        fn.apply(null, args);
      }, ms);
    };
  }

  function rows(tbodyParent, items, render, emptyCols) {
    var tbody = clear(tbodyParent.tBodies[0]);
    if (!items.length) {
      tbody.appendChild(el("tr", { cls: "empty" }, el("td", { text: T.nothing, attrs: { colspan: emptyCols } })));
      return;
    }
    items.forEach(function (item) {
      tbody.appendChild(render(item));
    });
  }

  function codeLink(code) {
    if (!code) return el("span", { text: "–" });
    return el("button", {
      cls: "code",
      text: code,
      attrs: { type: "button", "data-code": code },
      on: {
        click: function () {
          openTicket(code);
        },
      },
    });
  }

  function badge(key, n) {
    var b = document.querySelector('[data-count="' + key + '"]');
    if (b) b.textContent = n ? String(n) : "";
  }

  // -- tabs and keyboard -----------------------------------------------------------------------

  var tabs = Array.prototype.slice.call(document.querySelectorAll("[data-tab]"));
  var loaders = {};

  function showTab(key) {
    tabs.forEach(function (t) {
      var on = t.dataset.tab === key;
      t.setAttribute("aria-selected", on ? "true" : "false");
      var panel = $("panel-" + t.dataset.tab);
      if (panel) panel.hidden = !on;
    });
    if (loaders[key]) loaders[key]();
  }

  tabs.forEach(function (t) {
    t.addEventListener("click", function () {
      showTab(t.dataset.tab);
    });
  });

  document.addEventListener("keydown", function (e) {
    var pop = $("pop");
    var popOpen = pop && !pop.hidden;
    if (e.altKey && e.key >= "1" && e.key <= "9") {
      var n = Number(e.key);
      if (popOpen) {
        var picks = document.querySelectorAll("#pop-open [data-pick]");
        if (picks[n - 1]) picks[n - 1].click();
      } else if (tabs[n - 1]) {
        showTab(tabs[n - 1].dataset.tab);
        tabs[n - 1].focus();
      }
      e.preventDefault();
      return;
    }
    if (e.key === "Escape") {
      if (popOpen && pop.contains(document.activeElement)) {
        hidePop();
      } else if (!$("ticket").hidden) {
        $("ticket").hidden = true;
      } else if (popOpen) {
        hidePop();
      }
      return;
    }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      var form = document.activeElement && document.activeElement.form;
      if (form) {
        form.requestSubmit();
        e.preventDefault();
      }
      return;
    }
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test((document.activeElement || {}).tagName || "");
    if (e.key === "/" && !typing && $("tab-search")) {
      showTab("search");
      $("search-q").focus();
      e.preventDefault();
    }
  });

  // -- clock and countdowns -------------------------------------------------------------------------

  function tick() {
    var c = $("clock");
    if (c) {
      try {
        c.textContent = new Intl.DateTimeFormat(LOCALE, {
          weekday: "short", day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: TZ,
        }).format(new Date(now()));
      } catch (e) {
        c.textContent = new Date(now()).toISOString();
      }
    }
    document.querySelectorAll("[data-due]").forEach(function (cell) {
      var ms = Date.parse(cell.dataset.due) - now();
      cell.textContent = timeLeft(cell.dataset.due);
      cell.classList.toggle("late", ms < 0);
      cell.classList.toggle("warn", ms >= 0 && ms < 6 * 3600 * 1000);
    });
  }
  setInterval(tick, 1000);

  // -- category selects and suggestions -----------------------------------------------------------

  document.querySelectorAll(".category-select").forEach(function (sel) {
    sel.appendChild(el("option", { text: T.auto, attrs: { value: "" } }));
    cfg.categories.forEach(function (c) {
      sel.appendChild(el("option", { text: c.name, attrs: { value: c.code } }));
    });
    sel.addEventListener("change", function () {
      sel.dataset.touched = "1";
    });
  });

  document.querySelectorAll("#status-select option").forEach(function (o) {
    o.textContent = statusLabel(o.dataset.status);
  });

  function suggestInto(text, place, select, line, dupList, onPick) {
    if (!text.trim() && !place.trim()) {
      line.textContent = "";
      clear(dupList);
      return;
    }
    var url = "/console/api/suggest?text=" + encodeURIComponent(text) + "&place=" + encodeURIComponent(place);
    api("GET", url).then(function (res) {
      if (!res.ok) return;
      var d = res.data;
      line.textContent = "";
      if (d.category) {
        line.appendChild(el("strong", { text: T.suggested + ": " }));
        line.appendChild(document.createTextNode(d.category.name + (d.organisation ? " → " + d.organisation.name : "")));
        if (d.place) line.appendChild(document.createTextNode(" · " + d.place.name));
        if (!select.dataset.touched) select.value = d.category.code;
      }
      clear(dupList);
      (d.duplicates || []).forEach(function (t) {
        dupList.appendChild(
          el("li", null, codeLink(t.code), " " + statusLabel(t.status) + " · " + (t.place || "") + " · " + t.description + " ",
            onPick ? el("button", { text: T.add_to, attrs: { type: "button", "data-dup": t.code }, on: { click: function () { onPick(t.code); } } }) : null)
        );
      });
    });
  }

  // -- the screen pop --------------------------------------------------------------------------------

  var pop = { callId: null, answeredHere: false, target: null, key: null };

  function historyList(node, items, render) {
    clear(node);
    if (!items || !items.length) {
      node.appendChild(el("li", { cls: "muted", text: T.none }));
      return;
    }
    items.forEach(function (item, i) {
      node.appendChild(render(item, i));
    });
  }

  function setTarget(code) {
    pop.target = code;
    var t = $("pop-target");
    t.hidden = !code;
    t.textContent = code ? T.adding_to + " " + code : "";
    $("pop-description").focus();
  }

  function openPop(ev) {
    var popEl = $("pop");
    if (!popEl) return;
    var call = ev.call || {};
    var caller = call.caller || {};
    var history = ev.history || {};
    pop.callId = ev.call_id;
    pop.answeredHere = false;
    pop.key = "pop-" + ev.call_id + "-" + Math.random().toString(36).slice(2);
    setTarget(null);
    popEl.dataset.callId = String(ev.call_id);
    popEl.dataset.state = "ringing";
    $("pop-state").textContent = T.ringing;
    $("pop-number").textContent = caller.phone || caller.raw || T.hidden_number;
    $("pop-name").textContent = (history.citizen && history.citizen.name) || caller.name || T.unknown_caller;
    historyList($("pop-open"), history.open_tickets, function (t, i) {
      return el("li", null,
        codeLink(t.code), " ", el("span", { cls: "status", text: statusLabel(t.status) }), " ",
        el("span", { cls: "due", attrs: { "data-due": t.answered_at ? t.resolve_due : t.answer_due }, text: timeLeft(t.answered_at ? t.resolve_due : t.answer_due) }),
        " ",
        el("button", { text: T.add_to + (i < 9 ? " (Alt+" + (i + 1) + ")" : ""), attrs: { type: "button", "data-pick": t.code },
          on: { click: function () { setTarget(t.code); } } })
      );
    });
    historyList($("pop-recent"), history.recent_tickets, function (t) {
      return el("li", null, codeLink(t.code), " " + statusLabel(t.status) + " · " + fmtTime(t.created_at));
    });
    historyList($("pop-calls"), history.recent_calls, function (c) {
      return el("li", { text: fmtTime(c.started_at) + " · " + ((T.outcome && T.outcome[c.outcome]) || c.outcome || T.ringing) });
    });
    historyList($("pop-messages"), history.recent_messages, function (m) {
      return el("li", null, el("span", { cls: "muted", text: fmtTime(m.at) + " " + channelLabel(m.channel) + (m.direction === "out" ? " →" : " ←") + " " }), el("span", { text: m.body }));
    });
    clear($("pop-dups"));
    $("pop-description").value = "";
    $("pop-place").value = "";
    $("pop-category").value = "";
    delete $("pop-category").dataset.touched;
    $("pop-suggestion").textContent = "";
    $("pop-result").textContent = "";
    delete $("pop-result").dataset.code;
    popEl.hidden = false;
    $("pop-description").focus();
    // The pop counts as rendered when the browser has painted it (benchmark and tests read this).
    requestAnimationFrame(function () {
      S48.popTimes[ev.call_id] = Date.now();
    });
  }

  function hidePop() {
    var popEl = $("pop");
    if (popEl) popEl.hidden = true;
  }

  function closePop(callId, reason) {
    if (pop.callId !== callId) return;
    var popEl = $("pop");
    popEl.dataset.state = reason;
    popEl.hidden = true;
    pop.callId = null;
  }

  if ($("pop")) {
    $("pop-close").addEventListener("click", hidePop);
    var popSuggest = debounce(function () {
      suggestInto($("pop-description").value, $("pop-place").value, $("pop-category"), $("pop-suggestion"), $("pop-dups"), setTarget);
    }, 250);
    $("pop-description").addEventListener("input", popSuggest);
    $("pop-place").addEventListener("input", popSuggest);
    $("pop-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var callId = Number($("pop").dataset.callId);
      var body = {};
      var description = $("pop-description").value.trim();
      if (description) body.description = description;
      if (pop.target) body.ticket_code = pop.target;
      if ($("pop-place").value.trim()) body.place = $("pop-place").value.trim();
      if ($("pop-category").value) body.category = $("pop-category").value;
      if (!body.description && !body.ticket_code) {
        $("pop-description").focus();
        return;
      }
      $("pop-save").disabled = true;
      fetch("/api/v1/calls/" + callId + "/ticket", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf, "Idempotency-Key": pop.key },
        body: JSON.stringify(body),
      })
        .then(function (r) {
          return r.json().then(function (d) {
            return { ok: r.ok, status: r.status, data: d };
          });
        })
        .then(function (res) {
          $("pop-save").disabled = false;
          if (!res.ok) {
            $("pop-result").textContent = errorText(res);
            return;
          }
          var code = res.data.ticket_code;
          var result = $("pop-result");
          clear(result);
          result.dataset.code = code;
          result.appendChild(document.createTextNode(T.saved_ticket + ": "));
          result.appendChild(codeLink(code));
          toast(T.saved_ticket + ": " + code);
        });
    });
  }

  // -- work queues ---------------------------------------------------------------------------------------

  function loadMissed() {
    if (!$("missed-calls")) return;
    api("GET", "/api/v1/calls?missed=1&limit=100").then(function (res) {
      if (!res.ok) return;
      var calls = res.data.calls || [];
      badge("calls", calls.length);
      rows($("missed-calls"), calls, function (c) {
        var caller = c.caller || {};
        return el("tr", { attrs: { "data-call": c.id } },
          el("td", { text: fmtTime(c.started_at) }),
          el("td", null, el("span", { text: caller.phone || caller.raw || T.hidden_number }), " ", el("small", { text: caller.name || "" })),
          el("td", { text: (T.outcome && T.outcome[c.outcome]) || c.outcome || "" }),
          el("td", { cls: c.callback_due ? "warn" : "", text: fmtTime(c.callback_due_at) }),
          el("td", null, codeLink(c.ticket_code)),
          el("td", null, el("button", { cls: "callback", text: "☎ " + T.call_back, attrs: { type: "button", "data-callback": c.id, disabled: caller.phone ? null : "disabled" },
            on: { click: function (e) { callback(c.id, e.currentTarget); } } }))
        );
      }, 6);
    });
    api("GET", "/api/v1/calls?limit=10").then(function (res) {
      if (!res.ok) return;
      rows($("live-calls"), (res.data.calls || []).filter(function (c) { return c.state !== "ended"; }), function (c) {
        var caller = c.caller || {};
        return el("tr", null, el("td", { text: fmtTime(c.started_at) }), el("td", { text: (caller.phone || caller.raw || T.hidden_number) + " " + (caller.name || "") }),
          el("td", { text: c.state }), el("td", { text: c.operator || "" }));
      }, 4);
    });
  }

  function callback(callId, button) {
    button.disabled = true;
    api("POST", "/api/v1/calls/" + callId + "/callback", {}).then(function (res) {
      button.disabled = false;
      if (res.ok) {
        button.dataset.queued = "1";
        toast(T.callback_queued);
      } else {
        toast(errorText(res), "error");
      }
    });
  }

  function transcriptNode(d) {
    var p = el("p", { cls: "transcript", attrs: { lang: "sr" } });
    var words = d.words || [];
    if (d.corrected_text) {
      p.textContent = d.corrected_text;
      return p;
    }
    if (words.length) {
      words.forEach(function (w, i) {
        if (i) p.appendChild(document.createTextNode(" "));
        p.appendChild(w.low ? el("mark", { cls: "low", text: w.word, attrs: { title: Math.round(w.conf * 100) + "%" } }) : document.createTextNode(w.word));
      });
      return p;
    }
    p.textContent = d.transcript || "";
    return p;
  }

  function openVoicemail(id) {
    api("GET", "/api/v1/voicemails/" + id).then(function (res) {
      var box = clear($("voicemail-detail"));
      if (!res.ok) {
        box.appendChild(el("p", { cls: "error", text: errorText(res) }));
        return;
      }
      var d = res.data;
      box.dataset.voicemail = String(id);
      box.appendChild(el("h3", { text: ((d.caller && (d.caller.number || "")) || T.hidden_number) + " " + ((d.caller && d.caller.name) || "") }));
      box.appendChild(el("p", { cls: "muted", text: fmtTime(d.received_at) + (d.duration_s ? " · " + d.duration_s + " " + T.seconds : "") }));
      if (d.audio_url) {
        box.appendChild(el("audio", { attrs: { controls: "controls", preload: "none", src: d.audio_url } }));
      }
      if (d.transcript_status === "done") {
        box.appendChild(transcriptNode(d));
        if ((d.words || []).some(function (w) { return w.low; })) box.appendChild(el("p", { cls: "muted", text: T.low_words }));
      } else if (d.transcript_status === "pending") {
        box.appendChild(el("p", { cls: "muted", text: T.transcript_pending }));
      } else {
        box.appendChild(el("p", { cls: "warn", text: T.transcript_failed }));
      }
      if (d.ticket) box.appendChild(el("p", null, codeLink(d.ticket.code), " " + statusLabel(d.ticket.status)));
    });
  }

  function loadVoicemails() {
    if (!$("voicemails")) return;
    api("GET", "/api/v1/voicemails?limit=50").then(function (res) {
      if (!res.ok) return;
      var list = clear($("voicemails"));
      var items = res.data.voicemails || [];
      badge("voicemail", items.filter(function (v) { return !v.ticket_id || v.needs_human; }).length);
      if (!items.length) list.appendChild(el("li", { cls: "muted", text: T.nothing }));
      items.forEach(function (v) {
        var text = v.corrected_text || v.transcript || (v.transcript_status === "pending" ? T.transcript_pending : T.transcript_failed);
        list.appendChild(el("li", { attrs: { "data-voicemail": v.id } },
          el("button", { cls: "card", attrs: { type: "button" }, on: { click: function () { openVoicemail(v.id); } } },
            el("strong", { text: fmtTime(v.received_at) }), " ",
            v.needs_human ? el("span", { cls: "flag", text: "⚑" }) : null,
            el("span", { cls: "snippet", text: (text || "").slice(0, 140) }))));
      });
    });
  }

  function loadSms() {
    if (!$("sms-list")) return;
    api("GET", "/api/v1/sms?direction=in&limit=50").then(function (res) {
      if (!res.ok) return;
      var items = res.data.messages || [];
      badge("sms", items.filter(function (m) { return !m.ticket; }).length);
      rows($("sms-list"), items, function (m) {
        return el("tr", { attrs: { "data-sms": m.id } }, el("td", { text: fmtTime(m.at) }), el("td", { text: m.address || "" }),
          el("td", { cls: "body", text: m.body }), el("td", null, codeLink(m.ticket)));
      }, 4);
    });
  }

  function loadMail() {
    if (!$("mail-list")) return;
    api("GET", "/console/api/mail").then(function (res) {
      if (!res.ok) return;
      rows($("mail-list"), res.data.messages || [], function (m) {
        return el("tr", { attrs: { "data-mail": m.id } }, el("td", { text: fmtTime(m.at) }), el("td", { text: m.from || "" }),
          el("td", { cls: "body", text: m.body }), el("td", null, codeLink(m.ticket)));
      }, 4);
    });
    api("GET", "/api/v1/mail/quarantine").then(function (res) {
      if (!res.ok) return;
      var items = res.data.items || [];
      badge("mail", items.length);
      rows($("quarantine-list"), items, function (q) {
        return el("tr", { attrs: { "data-quarantine": q.id } }, el("td", { text: fmtTime(q.received_at) }), el("td", { text: q.from || "" }),
          el("td", { text: q.subject || "" }), el("td", { cls: "muted", text: q.error || "" }),
          el("td", null, el("button", { text: T.release, attrs: { type: "button" }, on: { click: function () {
            api("POST", "/api/v1/mail/quarantine/" + q.id + "/release", {}).then(function (r) {
              if (r.ok) { toast(T.saved_ticket + ": " + r.data.ticket_code); loadMail(); } else { toast(errorText(r), "error"); }
            });
          } } })));
      }, 5);
    });
  }

  function loadDeadlines() {
    if (!$("deadline-list")) return;
    api("GET", "/console/api/deadlines").then(function (res) {
      if (!res.ok) return;
      var items = res.data.tickets || [];
      badge("deadlines", items.filter(function (t) { return Date.parse(t.answer_due) - now() < 6 * 3600 * 1000; }).length);
      rows($("deadline-list"), items, function (t) {
        return el("tr", { attrs: { "data-ticket": t.code } },
          el("td", { cls: "due", attrs: { "data-due": t.answer_due }, text: timeLeft(t.answer_due) }),
          el("td", null, codeLink(t.code)), el("td", { text: statusLabel(t.status) }), el("td", { text: t.organisation || "" }),
          el("td", { cls: "body", text: t.description || "" }));
      }, 5);
      tick();
    });
  }

  var categoryNames = {};
  cfg.categories.forEach(function (c) {
    categoryNames[c.code] = c.name;
  });

  function categoryName(code) {
    return categoryNames[code] || code || "";
  }

  function ticketRow(t) {
    return el("tr", { attrs: { "data-ticket": t.code } }, el("td", null, codeLink(t.code)), el("td", { text: statusLabel(t.status) }),
      el("td", { text: categoryName(t.category) }), el("td", { text: t.place || "" }),
      el("td", { attrs: { "data-due": t.answered_at ? null : t.answer_due }, text: t.answered_at ? fmtTime(t.answered_at) : timeLeft(t.answer_due) }),
      el("td", { text: fmtTime(t.resolve_due) }));
  }

  function loadDeptTickets() {
    if (!$("dept-tickets")) return;
    var status = $("dept-status").value;
    api("GET", "/api/v1/tickets?limit=200" + (status ? "&status=" + encodeURIComponent(status) : "")).then(function (res) {
      if (!res.ok) return;
      badge("tickets", (res.data.tickets || []).length);
      rows($("dept-tickets"), res.data.tickets || [], ticketRow, 6);
    });
  }
  if ($("dept-status")) $("dept-status").addEventListener("change", loadDeptTickets);

  $("search-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var q = $("search-q").value.trim();
    if (!q) return;
    var param = /^[+0-9][0-9 /-]{5,}$/.test(q) ? "phone=" : "q=";
    api("GET", "/api/v1/tickets?limit=100&" + param + encodeURIComponent(q)).then(function (res) {
      if (!res.ok) return;
      rows($("search-results"), res.data.tickets || [], function (t) {
        return el("tr", { attrs: { "data-ticket": t.code } }, el("td", null, codeLink(t.code)), el("td", { text: statusLabel(t.status) }),
          el("td", { text: channelLabel(t.channel) }), el("td", { text: categoryName(t.category) }), el("td", { text: t.place || "" }), el("td", { text: fmtTime(t.created_at) }));
      }, 6);
    });
  });

  function loadOverview() {
    if (!$("calls-today")) return;
    api("GET", "/console/api/supervisor").then(function (res) {
      if (!res.ok) return;
      var d = res.data;
      var figures = Object.assign({ open_tickets: d.open_tickets }, d.calls_today);
      document.querySelectorAll("[data-stat]").forEach(function (n) {
        var v = figures[n.dataset.stat];
        n.textContent = v === null || v === undefined ? "–" : String(v);
      });
      rows($("escalations"), d.escalations, function (t) {
        return el("tr", null, el("td", null, codeLink(t.code)), el("td", { text: t.organisation || "" }), el("td", { text: statusLabel(t.status) }),
          el("td", { attrs: { "data-due": t.answer_due }, text: timeLeft(t.answer_due) }));
      }, 4);
      rows($("on-time"), d.on_time, function (o) {
        return el("tr", null, el("td", { text: o.name }), el("td", { text: o.decided }), el("td", { text: o.on_time }),
          el("td", { cls: o.rate === null ? "muted" : "", text: o.rate === null ? T.not_enough + " (< " + d.min_sample + ")" : o.rate + " %" }));
      }, 4);
      rows($("breaches"), d.breaches, function (t) {
        return el("tr", null, el("td", null, codeLink(t.code)), el("td", { text: t.organisation || "" }), el("td", { text: statusLabel(t.status) }),
          el("td", { text: fmtTime(t.breached_at) }));
      }, 4);
    });
  }

  function loadAudit() {
    if (!$("audit-list")) return;
    api("GET", "/console/api/audit?limit=200").then(function (res) {
      if (!res.ok) return;
      rows($("audit-list"), res.data.events || [], function (a) {
        return el("tr", null, el("td", { text: fmtTime(a.at) }), el("td", { text: a.actor || "" }), el("td", { text: a.role || "" }),
          el("td", { text: a.action }), el("td", { text: a.object_type + " " + (a.object_id || "") }),
          el("td", { cls: "muted", text: (a.reason || "") + (a.fields ? " " + JSON.stringify(a.fields) : "") }));
      }, 6);
    });
  }

  loaders = {
    calls: loadMissed, voicemail: loadVoicemails, sms: loadSms, mail: loadMail, deadlines: loadDeadlines,
    tickets: loadDeptTickets, overview: loadOverview, audit: loadAudit,
  };
  var refresh = {};
  Object.keys(loaders).forEach(function (k) {
    refresh[k] = debounce(loaders[k], 300);
  });

  // -- walk-in ----------------------------------------------------------------------------------------

  if ($("walkin-form")) {
    var walkinSuggest = debounce(function () {
      suggestInto($("walkin-description").value, $("walkin-place").value, $("walkin-category"), $("walkin-suggestion"), $("walkin-dups"), null);
    }, 250);
    $("walkin-description").addEventListener("input", walkinSuggest);
    $("walkin-place").addEventListener("input", walkinSuggest);
    $("walkin-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { channel: "walk-in", description: $("walkin-description").value };
      ["name", "phone", "email", "place", "category"].forEach(function (f) {
        var v = $("walkin-" + f).value.trim();
        if (v) body[f] = v;
      });
      api("POST", "/api/v1/tickets", body).then(function (res) {
        var out = clear($("walkin-result"));
        if (!res.ok) {
          out.textContent = errorText(res);
          return;
        }
        out.dataset.code = res.data.code;
        out.appendChild(document.createTextNode(T.saved_ticket + ": "));
        out.appendChild(codeLink(res.data.code));
        $("walkin-form").reset();
        delete $("walkin-category").dataset.touched;
        $("walkin-suggestion").textContent = "";
        clear($("walkin-dups"));
      });
    });
  }

  // -- ticket drawer -----------------------------------------------------------------------------------

  var current = null;

  function fillTicket(d) {
    current = d;
    var drawer = $("ticket");
    drawer.dataset.code = d.code;
    $("ticket-code").textContent = d.code;
    $("ticket-status").textContent = statusLabel(d.status);
    $("ticket-status").dataset.status = d.status;
    $("ticket-category").textContent = d.category ? d.category.name : "–";
    $("ticket-organisation").textContent = d.organisation ? d.organisation.name : "–";
    $("ticket-place").textContent = d.place || "–";
    var c = d.citizen;
    $("ticket-citizen").textContent = c ? [c.name, c.phone || c.phone_raw, c.email].filter(Boolean).join(" · ") : "–";
    $("ticket-reveal").hidden = !(c && c.masked);
    $("ticket-answer-due").textContent = d.answered_at ? fmtTime(d.answered_at) + " ✓" : timeLeft(d.answer_due);
    $("ticket-resolve-due").textContent = fmtTime(d.resolve_due);
    $("ticket-description").textContent = d.description || "";
    var cl = d.cluster || { reporters: 1, members: [] };
    var clusterLine = clear($("ticket-cluster"));
    if (cl.reporters > 1) {
      clusterLine.appendChild(el("strong", { cls: "reporters", text: cl.reporters + " " + T.reporters }));
      if (!cl.is_primary) clusterLine.appendChild(el("span", null, " · " + T.primary + ": ", codeLink(cl.primary)));
      cl.members.forEach(function (m) {
        clusterLine.appendChild(document.createTextNode(" "));
        clusterLine.appendChild(codeLink(m.code));
      });
    }
    var photos = clear($("ticket-photos"));
    (d.attachments || []).forEach(function (a) {
      if (/^image\//.test(a.content_type)) {
        photos.appendChild(el("img", { attrs: { src: "/console/api/attachments/" + a.id, alt: T.photo, loading: "lazy" } }));
      }
    });
    historyList($("ticket-history"), d.history, function (h) {
      return el("li", null,
        el("span", { cls: "muted", text: fmtTime(h.at) + " · " + h.actor + " · " }),
        h.to_status ? el("strong", { text: statusLabel(h.to_status) + " " }) : null,
        h.public_note ? el("span", { cls: "public", text: h.public_note + " " }) : null,
        h.internal_note ? el("em", { cls: "internal", text: h.internal_note }) : null);
    });
    var costs = d.costs || { entries: [] };
    var list = clear($("cost-list"));
    costs.entries.forEach(function (e) {
      list.appendChild(el("li", { text: fmtTime(e.at) + " · " + e.hours + " " + T.hours + " · " + (e.materials || "") + " · " + e.amount + " KM" }));
    });
    if (costs.entries.length) list.appendChild(el("li", { cls: "total", text: T.total + ": " + costs.total_hours + " " + T.hours + " · " + costs.total_amount + " KM" }));
    $("status-select").value = d.status;
    $("status-result").textContent = "";
    $("workorder-result").textContent = "";
    drawer.hidden = false;
  }

  function openTicket(code) {
    api("GET", "/console/api/tickets/" + encodeURIComponent(code)).then(function (res) {
      if (!res.ok) {
        toast(errorText(res), "error");
        return;
      }
      fillTicket(res.data);
      $("status-select").focus();
    });
  }
  S48.openTicket = openTicket;

  $("ticket-close").addEventListener("click", function () {
    $("ticket").hidden = true;
  });
  $("ticket-reveal").addEventListener("click", function () {
    if (!current) return;
    api("POST", "/console/api/tickets/" + encodeURIComponent(current.code) + "/reveal", {}).then(function (res) {
      if (!res.ok) return;
      var c = current.citizen || {};
      $("ticket-citizen").textContent = [c.name, res.data.phone, res.data.email].filter(Boolean).join(" · ");
      $("ticket-reveal").hidden = true;
    });
  });

  $("status-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!current) return;
    var status = $("status-select").value;
    var note = $("status-public").value.trim();
    if ((status === "resolved" || status === "referred") && !note) {
      $("status-result").textContent = T.public_note_required;
      $("status-public").focus();
      return;
    }
    var form = new FormData($("status-form"));
    api("POST", "/console/api/tickets/" + encodeURIComponent(current.code) + "/status", undefined, form).then(function (res) {
      if (!res.ok) {
        $("status-result").textContent = errorText(res);
        return;
      }
      $("status-form").reset();
      openTicket(current.code);
      toast(T.saved + ": " + statusLabel(res.data.status));
      refresh.tickets();
      refresh.deadlines();
    });
  });

  $("cost-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!current) return;
    var body = { hours: $("cost-hours").value, materials: $("cost-materials").value, amount: $("cost-amount").value };
    api("POST", "/console/api/tickets/" + encodeURIComponent(current.code) + "/costs", body).then(function (res) {
      if (!res.ok) {
        toast(errorText(res), "error");
        return;
      }
      $("cost-form").reset();
      openTicket(current.code);
    });
  });

  $("cluster-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!current) return;
    var primary = $("cluster-primary").value.trim();
    api("POST", "/console/api/tickets/" + encodeURIComponent(current.code) + "/cluster", { primary: primary }).then(function (res) {
      if (!res.ok) {
        toast(errorText(res), "error");
        return;
      }
      toast(T.linked + ": " + res.data.reporters + " " + T.reporters);
      $("cluster-primary").value = "";
      openTicket(current.code);
    });
  });
  $("cluster-unlink").addEventListener("click", function () {
    if (!current) return;
    api("DELETE", "/console/api/tickets/" + encodeURIComponent(current.code) + "/cluster").then(function (res) {
      if (res.ok) openTicket(current.code);
      else toast(errorText(res), "error");
    });
  });

  $("workorder-form").addEventListener("submit", function (e) {
    e.preventDefault();
    if (!current) return;
    api("POST", "/console/api/tickets/" + encodeURIComponent(current.code) + "/work-order", { text: $("workorder-text").value }).then(function (res) {
      $("workorder-result").textContent = res.ok ? T.work_order_sent : errorText(res);
      if (res.ok) $("workorder-text").value = "";
    });
  });

  // -- live events -------------------------------------------------------------------------------------

  function setLink(name, state) {
    var node = $("link-" + name);
    if (!node) return;
    node.dataset.state = state;
    node.title = node.textContent + ": " + state;
  }

  function handle(ev) {
    if (!ev || typeof ev !== "object" || typeof ev.seq !== "number") return;
    if (S48.seen.has(ev.seq)) return; // the same event from the socket and from a resync: once
    S48.seen.add(ev.seq);
    if (S48.seen.size > MAX_SEEN) {
      var oldest = S48.seen.values().next().value;
      S48.seen.delete(oldest);
    }
    if (ev.seq > S48.lastSeq) S48.lastSeq = ev.seq;
    S48.log.push({ seq: ev.seq, type: ev.type });
    if (S48.log.length > 500) S48.log.shift();
    switch (ev.type) {
      case "call.ringing":
        if (desk && cfg.extension && ev.extension === cfg.extension) {
          S48.eventTimes[ev.call_id] = Date.now();
          openPop(ev);
        }
        refresh.calls();
        break;
      case "call.withdrawn":
        if (ev.extension === cfg.extension) closePop(ev.call_id, "withdrawn");
        break;
      case "call.answered":
        if (pop.callId === ev.call_id) {
          if (ev.extension === cfg.extension) {
            pop.answeredHere = true;
            $("pop").dataset.state = "answered";
            $("pop-state").textContent = T.in_call;
          } else {
            closePop(ev.call_id, "answered-elsewhere");
          }
        }
        refresh.calls();
        break;
      case "call.ended":
        if (pop.callId === ev.call_id) {
          if (pop.answeredHere) {
            $("pop").dataset.state = "ended";
            $("pop-state").textContent = T.call_ended;
          } else {
            closePop(ev.call_id, "ended");
          }
        }
        refresh.calls();
        break;
      case "call.missed":
      case "call.transferred":
      case "callback.result":
        refresh.calls();
        break;
      case "voicemail.new":
      case "voicemail.transcribed":
      case "voicemail.updated":
        refresh.voicemail();
        break;
      case "sms.new":
        refresh.sms();
        break;
      case "mail.new":
        refresh.mail();
        break;
      case "ticket.created":
      case "ticket.updated":
        refresh.deadlines();
        refresh.tickets();
        if (oversight) refresh.overview();
        if (current && ev.ticket && ev.ticket.code === current.code && !$("ticket").hidden) {
          $("ticket-status").textContent = statusLabel(ev.ticket.status);
        }
        break;
      case "link.status":
        setLink(ev.component === "ami" ? "ami" : ev.component, ev.state === "ok" || ev.state === "up" ? "ok" : String(ev.state || "down"));
        break;
      default:
        break;
    }
  }
  S48.handle = handle;

  function resync() {
    // Live events that arrive while we catch up wait, so the order of seq is kept.
    S48.syncing = true;
    function page() {
      return api("GET", "/api/v1/events?after=" + S48.lastSeq).then(function (res) {
        if (!res.ok) throw new Error("resync " + res.status);
        (res.data.events || []).forEach(handle);
        if (res.data.more && res.data.events && res.data.events.length) return page();
        return null;
      });
    }
    return page()
      .catch(function () {
        /* the next reconnect tries again */
      })
      .then(function () {
        S48.syncing = false;
        var waiting = S48.pending.sort(function (a, b) {
          return a.seq - b.seq;
        });
        S48.pending = [];
        waiting.forEach(handle);
      });
  }
  S48.resync = resync;

  function readiness() {
    fetch("/readyz", { headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json();
      })
      .then(function (d) {
        var comps = d.components || {};
        ["ami", "modem", "mail"].forEach(function (k) {
          if (comps[k]) setLink(k, comps[k]);
        });
      })
      .catch(function () {});
  }

  function connect() {
    if (typeof window.io !== "function") return;
    var socket = window.io("/operator", { reconnectionDelay: 500, reconnectionDelayMax: 5000 });
    S48.socket = socket;
    socket.on("connect", function () {
      setLink("socket", "ok");
      resync();
      readiness();
    });
    socket.on("disconnect", function () {
      setLink("socket", "down");
    });
    socket.onAny(function (type, ev) {
      if (S48.syncing) {
        if (S48.pending.length < 1000) S48.pending.push(ev);
        return;
      }
      handle(ev);
    });
  }

  // -- start ----------------------------------------------------------------------------------------------

  tick();
  if (tabs.length) showTab(tabs[0].dataset.tab);
  if (desk) {
    loadMissed();
    loadVoicemails();
    loadSms();
    loadMail();
  }
  loadDeadlines();
  connect();
  document.body.dataset.ready = "1";
})();
