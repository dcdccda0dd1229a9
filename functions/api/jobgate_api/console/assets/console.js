// The jobgate web console: plain browser JavaScript, no build step, no third-party code.
// Every call goes to the API with a relative URL (the page is <stage>/console), the key in
// `Authorization: Bearer`. The key lives in this tab's sessionStorage only, never in a URL.
"use strict";

(() => {
  const KEY_STORAGE = "jobgate.apiKey";
  const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
  const WAIT_SECONDS = 20; // docs/api.md: Prefer: wait=N is capped at 20
  // A held long-poll keeps one of the browser's ~6 connections to the API busy: at most this
  // many are held at once, so the page's other calls never queue behind them.
  const MAX_HELD_POLLS = 3;
  const PAGE_SIZE = 20;
  const PREVIEW_CHARACTERS = 4000;

  const byId = (id) => document.getElementById(id);
  const view = {
    session: byId("session"), signOut: byId("sign-out"), announcer: byId("announcer"), error: byId("error"),
    signIn: byId("sign-in-view"), signInForm: byId("sign-in-form"), keyInput: byId("api-key"),
    jobs: byId("jobs-view"), filters: byId("filters"), status: byId("filter-status"), type: byId("filter-type"),
    knownTypes: byId("known-types"), refresh: byId("refresh"), rows: byId("job-rows"), noJobs: byId("no-jobs"),
    more: byId("more"),
    job: byId("job-view"), jobTitle: byId("job-title"), facts: byId("job-facts"), progress: byId("job-progress"),
    progressLabel: byId("job-progress-label"), jobError: byId("job-error"), cancel: byId("cancel"),
    purge: byId("purge"), steps: byId("steps"), noSteps: byId("no-steps"), resultNote: byId("result-note"),
    download: byId("download"), preview: byId("result-preview"), timeline: byId("timeline"),
    refreshDeliveries: byId("refresh-deliveries"), noDeliveries: byId("no-deliveries"),
    deliveriesTable: byId("deliveries-table"), deliveryRows: byId("delivery-rows"),
    confirm: byId("confirm"), confirmTitle: byId("confirm-title"), confirmText: byId("confirm-text"),
    confirmYes: byId("confirm-yes"), confirmNo: byId("confirm-no"),
  };

  // ---- the API -------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  const apiKey = () => sessionStorage.getItem(KEY_STORAGE);

  async function call(path, { method = "GET", headers = {}, signal, redirect = "follow" } = {}) {
    const response = await fetch(path, {
      method,
      headers: { Accept: "application/json", Authorization: `Bearer ${apiKey()}`, ...headers },
      signal,
      redirect,
      cache: "no-store", // conditional requests are ours: the browser's cache must not answer them
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    if (response.ok || response.status === 304 || response.type === "opaqueredirect") {
      return response;
    }
    throw new ApiError(response.status, await problemOf(response));
  }

  async function problemOf(response) {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      if (body && typeof body === "object") return body;
    } catch (ignored) { /* not JSON: shown as text below */ }
    return { title: `HTTP ${response.status}`, detail: text.slice(0, 500) };
  }

  const json = async (path, options) => (await call(path, options)).json();
  const jobPath = (id) => `jobs/${encodeURIComponent(id)}`;
  const retryAfterOf = (response) => Math.max(1, Number.parseInt(response.headers.get("Retry-After") || "2", 10) || 2);

  // ---- waiting for a job to change: Retry-After, then If-None-Match + Prefer: wait -------

  const heldPolls = { count: 0, waiting: [] };

  const aborted = () => new DOMException("aborted", "AbortError");

  function wakeNext() {
    const next = heldPolls.waiting.shift();
    if (next) next();
  }

  async function holdSlot(signal) {
    while (heldPolls.count >= MAX_HELD_POLLS) {
      await new Promise((resolve) => heldPolls.waiting.push(resolve));
      if (signal.aborted) {
        wakeNext(); // the free slot goes to the next watch still wanted
        throw aborted();
      }
    }
    heldPolls.count += 1;
  }

  function releaseSlot() {
    heldPolls.count -= 1;
    wakeNext();
  }

  const sleep = (seconds, signal) => new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(aborted());
      return;
    }
    const stop = () => {
      clearTimeout(timer);
      reject(aborted());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, seconds * 1000);
    signal.addEventListener("abort", stop, { once: true });
  });

  // Calls onChange(job) on every new version of the job until it is finished or `signal` aborts.
  // As docs/api.md advises: wait what Retry-After says, then one request held until the job's
  // ETag changes (or 20 s pass: 304): about one request per change, never a busy loop. Without
  // an ETag yet (a job from the list, which has none) the first request is a plain read.
  async function watchJob(id, etag, retryAfter, onChange, signal) {
    let wait = retryAfter;
    while (!signal.aborted) {
      await sleep(wait, signal);
      await holdSlot(signal);
      let response;
      try {
        const headers = etag ? { "If-None-Match": etag, Prefer: `wait=${WAIT_SECONDS}` } : {};
        response = await call(jobPath(id), { headers, signal });
      } finally {
        releaseSlot();
      }
      wait = retryAfterOf(response);
      if (response.status === 304) continue;
      const job = await response.json();
      etag = response.headers.get("ETag");
      onChange(job);
      if (TERMINAL.has(job.status)) return;
    }
  }

  // Every call and watch of the current view stops together when the view changes, so
  // nothing a former view asked for lands in the next one.
  let viewCalls = new AbortController();
  const viewSignal = () => viewCalls.signal;

  function watch(id, response, onChange) {
    const signal = viewSignal();
    watchJob(id, response.etag, response.retryAfter, onChange, signal).catch((error) => {
      if (error.name !== "AbortError") showError(error);
    });
  }

  // ---- small DOM helpers (text only: nothing from the API is ever parsed as HTML) ----------

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  const statusBadge = (status) => element("span", { className: `status status-${status}`, text: status });
  const when = (timestamp) => (timestamp ? new Date(timestamp).toLocaleString() : "–");
  const percentOf = (job) => Math.round((job.progress && job.progress.percent) || 0);

  function announce(message) {
    view.announcer.textContent = message;
  }

  function showError(error) {
    const problem = error instanceof ApiError ? error.problem : { title: "The console could not reach the API", detail: String(error.message || error) };
    const status = error instanceof ApiError ? ` (${error.status})` : "";
    view.error.replaceChildren(
      element("strong", { text: `${problem.title || "Error"}${status}` }),
      problem.detail ? element("span", { text: ` — ${problem.detail}` }) : null,
    );
    if (Array.isArray(problem.errors) && problem.errors.length) {
      view.error.append(element("ul", {}, ...problem.errors.map((e) => element("li", { text: `${e.pointer}: ${e.detail}` }))));
    }
    view.error.hidden = false;
  }

  function showUnlessAborted(error) {
    if (error.name !== "AbortError") showError(error);
  }

  function clearError() {
    view.error.hidden = true;
    view.error.replaceChildren();
  }

  function show(section) {
    for (const candidate of [view.signIn, view.jobs, view.job]) candidate.hidden = candidate !== section;
    view.session.hidden = section === view.signIn;
  }

  // ---- signing in and out --------------------------------------------------------------

  view.signInForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    const key = view.keyInput.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    try {
      await json(`jobs?limit=1`); // proves the key before anything is shown
    } catch (error) {
      sessionStorage.removeItem(KEY_STORAGE);
      showError(error);
      view.keyInput.focus();
      return;
    }
    view.keyInput.value = "";
    announce("Signed in.");
    route();
  });

  view.signOut.addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    viewCalls.abort();
    clearError();
    location.hash = "";
    show(view.signIn);
    announce("Signed out.");
    view.keyInput.focus();
  });

  // ---- the job list --------------------------------------------------------------------

  const listState = { next: null, rows: new Map() };

  function filtersFromHash() {
    const query = new URLSearchParams(location.hash.replace(/^#\/?(jobs)?\??/, ""));
    return { status: query.get("status") || "", type: query.get("type") || "" };
  }

  view.filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (view.status.value) query.set("status", view.status.value);
    if (view.type.value.trim()) query.set("type", view.type.value.trim());
    const hash = `#/jobs${query.toString() ? `?${query}` : ""}`;
    if (location.hash === hash) route(); else location.hash = hash;
  });

  view.refresh.addEventListener("click", () => route());
  view.more.addEventListener("click", () => loadJobs(filtersFromHash(), listState.next).catch(showUnlessAborted));

  async function showJobs() {
    const filters = filtersFromHash();
    view.status.value = filters.status;
    view.type.value = filters.type;
    view.rows.replaceChildren();
    listState.rows.clear();
    show(view.jobs);
    await loadJobs(filters, null);
  }

  async function loadJobs(filters, cursor) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (filters.status) query.set("status", filters.status);
    if (filters.type) query.set("type", filters.type);
    if (cursor) query.set("cursor", cursor);
    const page = await json(`jobs?${query}`, { signal: viewSignal() });
    for (const job of page.items) {
      const row = jobRow(job);
      listState.rows.set(job.id, row);
      view.rows.append(row.node);
      rememberType(job.type);
      if (!TERMINAL.has(job.status)) {
        watch(job.id, { etag: null, retryAfter: 1 }, (changed) => updateRow(row, changed));
      }
    }
    listState.next = page.next;
    view.more.hidden = !page.next;
    view.noJobs.hidden = listState.rows.size > 0;
  }

  function rememberType(type) {
    if ([...view.knownTypes.options].some((option) => option.value === type)) return;
    view.knownTypes.append(element("option", { value: type }));
  }

  function jobRow(job) {
    const link = element("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, className: "mono", text: job.id });
    const status = element("td", { className: "status-cell" });
    const progress = element("progress", { max: "100", value: "0", "aria-label": `Progress of ${job.id}` });
    const percent = element("span", { className: "percent" });
    const node = element(
      "tr", { "data-job-id": job.id },
      element("td", {}, link),
      element("td", { text: job.type }),
      status,
      element("td", { className: "progress-cell" }, progress, percent),
      element("td", { text: when(job.createdAt) }),
    );
    const row = { node, status, progress, percent, job: null };
    updateRow(row, job);
    return row;
  }

  function updateRow(row, job) {
    const before = row.job && row.job.status;
    row.job = job;
    row.status.replaceChildren(statusBadge(job.status));
    row.progress.value = percentOf(job);
    row.percent.textContent = `${percentOf(job)}%`;
    if (before && before !== job.status) announce(`${job.id} is now ${job.status}.`);
  }

  // ---- one job ---------------------------------------------------------------------------

  const jobState = { id: null, job: null, lastSequence: 0, result: null };

  async function showJob(id) {
    Object.assign(jobState, { id, job: null, lastSequence: 0, result: null });
    view.timeline.replaceChildren();
    view.preview.hidden = true;
    view.preview.textContent = "";
    const response = await call(jobPath(id), { signal: viewSignal() });
    const job = await response.json();
    show(view.job);
    renderJob(job);
    view.jobTitle.focus(); // keyboard and screen reader users land on the job they opened
    await Promise.all([loadEvents(), loadDeliveries()]);
    if (!TERMINAL.has(job.status)) {
      watch(id, { etag: response.headers.get("ETag"), retryAfter: retryAfterOf(response) }, (changed) => {
        if (changed.id !== jobState.id) return;
        renderJob(changed);
        loadEvents().then(loadDeliveries).catch(showUnlessAborted);
      });
    }
  }

  function renderJob(job) {
    const before = jobState.job && jobState.job.status;
    jobState.job = job;
    view.jobTitle.replaceChildren(element("span", { className: "mono", text: job.id }), " ", statusBadge(job.status));
    const facts = [
      ["Type", job.type], ["Created", when(job.createdAt)], ["Started", when(job.startedAt)],
      ["Ended", when(job.endedAt)], ["Expires", when(job.expiresAt)],
      ["Callback", job.callback ? job.callback.url : "none"],
    ];
    if (job.progress && job.progress.eta && !TERMINAL.has(job.status)) facts.push(["ETA", when(job.progress.eta)]);
    view.facts.replaceChildren(...facts.flatMap(([name, value]) => [element("dt", { text: name }), element("dd", { text: value })]));
    view.progress.value = percentOf(job);
    const message = job.progress && job.progress.message ? ` — ${job.progress.message}` : "";
    view.progressLabel.textContent = `${percentOf(job)}%${message}`;
    view.jobError.hidden = !job.error;
    if (job.error) {
      view.jobError.replaceChildren(
        element("strong", { text: `${job.error.title || job.error.type}` }),
        element("span", { text: ` (${job.error.type}${job.error.step ? `, step ${job.error.step}` : ""})` }),
        job.error.detail ? element("p", { text: job.error.detail }) : null,
      );
    }
    view.cancel.hidden = TERMINAL.has(job.status);
    view.purge.hidden = !TERMINAL.has(job.status);
    renderSteps(job);
    renderResult(job);
    if (before && before !== job.status) announce(`The job is now ${job.status}.`);
  }

  function renderSteps(job) {
    const steps = (job.progress && job.progress.steps) || [];
    view.noSteps.hidden = steps.length > 0;
    view.steps.replaceChildren(...steps.map((step) => {
      const details = [
        ["Attempts", step.attempts], ["Started", when(step.startedAt)], ["Ended", when(step.endedAt)],
        ...Object.entries(step.detail || {}).map(([name, value]) => [name, typeof value === "object" ? JSON.stringify(value) : value]),
      ];
      return element(
        "li", { "data-step": step.name },
        element("strong", { text: step.name }), " ", statusBadge(step.status),
        element("dl", {}, ...details.flatMap(([name, value]) => [element("dt", { text: name }), element("dd", { text: String(value ?? "–") })])),
      );
    }));
  }

  function renderResult(job) {
    const ready = job.status === "succeeded";
    view.download.hidden = !ready;
    if (!ready) {
      view.resultNote.textContent = TERMINAL.has(job.status) ? `No result: the job ${job.status}.` : "The result is ready when the job succeeds.";
    } else if (!jobState.result) {
      view.resultNote.textContent = "The job succeeded.";
    }
  }

  // The step a job.step event is about: the one that started or ended last.
  function lastChangedStep(job) {
    const changedAt = (step) => step.endedAt || step.startedAt || "";
    const steps = (job.progress && job.progress.steps) || [];
    return steps.reduce((latest, step) => (latest && changedAt(latest) > changedAt(step) ? latest : step), null);
  }

  async function loadEvents() {
    const id = jobState.id;
    let after = jobState.lastSequence;
    for (;;) {
      const page = await json(`${jobPath(id)}/events?after=${after}`, { signal: viewSignal() });
      for (const event of page.items) {
        const job = event.data.job;
        const step = event.type === "job.step" ? lastChangedStep(job) : null;
        view.timeline.append(element(
          "li", { "data-sequence": String(event.sequence) },
          element("span", { className: "when", text: when(event.timestamp) }),
          element("strong", { text: `#${event.sequence} ${event.type}` }),
          element("span", { text: ` — ${job.status}, ${percentOf(job)}%${step ? `, ${step.name} ${step.status}` : ""}` }),
        ));
        after = event.sequence;
      }
      jobState.lastSequence = after;
      if (!page.next) return;
      after = Number(page.next);
    }
  }

  async function loadDeliveries() {
    const id = jobState.id;
    const page = await json(`${jobPath(id)}/deliveries`, { signal: viewSignal() });
    view.noDeliveries.hidden = page.items.length > 0;
    view.deliveriesTable.hidden = page.items.length === 0;
    view.deliveryRows.replaceChildren(...page.items.map((attempt) => {
      const redeliver = element("button", { type: "button", className: "secondary", text: "Redeliver", "aria-label": `Redeliver event ${attempt.sequence} (${attempt.eventType})` });
      redeliver.addEventListener("click", () => redeliverEvent(attempt.sequence).catch(showUnlessAborted));
      return element(
        "tr", { "data-sequence": String(attempt.sequence) },
        element("td", { text: `#${attempt.sequence} ${attempt.eventType}` }),
        element("td", { text: String(attempt.attempt) }),
        element("td", { text: when(attempt.attemptedAt) }),
        element("td", {}, statusBadge(attempt.outcome)),
        element("td", { text: attempt.statusCode == null ? "–" : String(attempt.statusCode) }),
        element("td", { text: attempt.latencyMs == null ? "–" : `${attempt.latencyMs} ms` }),
        element("td", { text: attempt.error || "" }),
        element("td", {}, redeliver),
      );
    }));
  }

  async function redeliverEvent(sequence) {
    clearError();
    const accepted = await json(`${jobPath(jobState.id)}/deliveries/${sequence}/redeliver`, { method: "POST" });
    announce(`Event ${accepted.sequence} is being sent again (webhook-id ${accepted.webhookId}).`);
    await loadDeliveries();
  }

  view.refreshDeliveries.addEventListener("click", () => loadDeliveries().catch(showUnlessAborted));

  view.download.addEventListener("click", () => downloadResult().catch(showError));

  async function downloadResult() {
    clearError();
    const response = await call(`${jobPath(jobState.id)}/result`, { redirect: "manual" });
    if (response.type === "opaqueredirect") {
      // A result over 64 KiB is a 303 to a short-lived storage URL on another origin, which
      // this page's Content-Security-Policy (connect-src 'self') does not let it fetch.
      view.resultNote.textContent = `This result is large and is served from a short-lived storage URL: download it with "jobgate jobs result ${jobState.id}" or "curl -L".`;
      return;
    }
    const text = await response.text();
    jobState.result = text;
    let pretty = text;
    try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (ignored) { /* shown as sent */ }
    view.preview.textContent = pretty.length > PREVIEW_CHARACTERS ? `${pretty.slice(0, PREVIEW_CHARACTERS)}\n…` : pretty;
    view.preview.hidden = false;
    view.resultNote.textContent = `Result downloaded (${text.length} bytes).`;
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const link = element("a", { href: url, download: `${jobState.id}-result.json` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---- cancel and purge, each after a confirmation -----------------------------------------

  function confirmAction(title, text, action) {
    view.confirmTitle.textContent = title;
    view.confirmText.textContent = text;
    view.confirmYes.textContent = action;
    return new Promise((resolve) => {
      const finish = (answer) => {
        view.confirmYes.removeEventListener("click", yes);
        view.confirmNo.removeEventListener("click", no);
        view.confirm.removeEventListener("cancel", no);
        if (view.confirm.open) view.confirm.close();
        resolve(answer);
      };
      const yes = () => finish(true);
      const no = () => finish(false);
      view.confirmYes.addEventListener("click", yes);
      view.confirmNo.addEventListener("click", no);
      view.confirm.addEventListener("cancel", no); // Escape
      view.confirm.showModal();
      view.confirmNo.focus(); // the safe choice has the focus
    });
  }

  view.cancel.addEventListener("click", async () => {
    const id = jobState.id;
    if (!(await confirmAction("Cancel this job?", `${id} will stop; a cancelled job cannot be resumed.`, "Cancel job"))) return;
    try {
      clearError();
      const response = await call(jobPath(id), { method: "DELETE" });
      // 202: the job's watch sees the new version and renders the rest (cancelled, events).
      renderJob(await response.json());
      announce(`Cancel requested: the job is ${jobState.job.status}.`);
      await loadEvents();
    } catch (error) {
      showUnlessAborted(error);
    }
  });

  view.purge.addEventListener("click", async () => {
    const id = jobState.id;
    if (!(await confirmAction("Purge this job?", `${id}, its timeline and its result will be deleted for good.`, "Purge job"))) return;
    try {
      clearError();
      await call(jobPath(id), { method: "DELETE" });
      announce(`${id} was purged.`);
      location.hash = "#/jobs";
    } catch (error) {
      showUnlessAborted(error);
    }
  });

  // ---- which view the hash names -----------------------------------------------------------

  function route() {
    viewCalls.abort();
    viewCalls = new AbortController();
    if (!apiKey()) {
      show(view.signIn);
      view.keyInput.focus();
      return;
    }
    const match = location.hash.match(/^#\/jobs\/([^/?]+)$/);
    const shown = match ? showJob(decodeURIComponent(match[1])) : showJobs();
    shown.catch((error) => {
      if (error.name === "AbortError") return; // the view was left before it was shown
      if (error instanceof ApiError && error.status === 401) {
        sessionStorage.removeItem(KEY_STORAGE);
        show(view.signIn);
      }
      showError(error);
    });
  }

  window.addEventListener("hashchange", () => {
    clearError();
    route();
  });
  route();
})();
