// restora web page: upload, follow progress, compare before/after, download.
// Plain JS, no build step; talks only to this server's /api.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const TOKEN_KEY = "restora-token";
  let methods = [];

  // --- token (only when the server was started with --token) ------------------------------
  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  if (hashToken) {
    sessionStorage.setItem(TOKEN_KEY, hashToken);
    history.replaceState(null, "", location.pathname);
  }
  const authHeaders = () => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: "Bearer " + token } : {};
  };

  async function api(path, options = {}) {
    const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
    if (response.status === 401) $("#token-box").hidden = false;
    if (!response.ok) {
      let detail = response.status + " " + response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(detail);
    }
    return response;
  }

  function showError(message) {
    const box = $("#error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  $("#token-box").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("#token-input").value.trim());
    $("#token-box").hidden = true;
    showError("");
    loadMethods();
  });

  // --- options ----------------------------------------------------------------------------
  async function loadMethods() {
    try {
      const info = await (await api("/api/methods")).json();
      methods = info.methods;
      const mb = info.limits.max_upload_mb, mp = (info.limits.max_pixels / 1e6).toFixed(0);
      $("#limits-hint").textContent = `JPEG, PNG, TIFF, WebP, BMP, HEIC - up to ${mb} MB per upload, ${mp} megapixels per image`;
      fillMethods();
    } catch (err) {
      showError("Could not load the method list: " + err.message);
    }
  }

  function fillMethods() {
    const task = $("#opt-task").value;
    const select = $("#opt-method");
    select.textContent = "";
    select.append(new Option("default", ""));
    for (const m of methods.filter((m) => m.tasks.includes(task))) {
      select.append(new Option(m.name + (m.default ? " (default)" : ""), m.name));
    }
    const auto = task === "auto";
    for (const id of ["#opt-method", "#opt-sigma", "#opt-kernel", "#opt-mask"]) $(id).disabled = auto;
    $("#opt-scale").disabled = !(auto || task === "upscale");
    $("#opt-kernel").disabled = task !== "deblur";
    $("#opt-mask").disabled = task !== "inpaint";
    if (task === "upscale" && !$("#opt-scale").value) $("#opt-scale").value = "2";
    $("#opt-times").disabled = $("#opt-merge").value !== "fuse";
  }
  $("#opt-task").addEventListener("change", fillMethods);
  $("#opt-merge").addEventListener("change", fillMethods);

  function formOptions() {
    const data = new FormData();
    const merge = $("#opt-merge").value;
    data.append("format", $("#opt-format").value);
    if (merge) {  // frames of one scene -> one photo (fuse: no restoration method runs)
      data.append("merge", merge);
      if (merge === "fuse" && $("#opt-times").value.trim()) data.append("times", $("#opt-times").value.trim());
      if (merge === "fuse") return data;
    }
    const task = merge === "burst" && $("#opt-task").value !== "denoise" ? "auto" : $("#opt-task").value;
    data.append("task", task);
    if (!merge && (task === "auto" || task === "upscale") && $("#opt-scale").value) data.append("scale", $("#opt-scale").value);
    if (task !== "auto") {
      if ($("#opt-method").value) data.append("method", $("#opt-method").value);
      if ($("#opt-sigma").value) data.append("sigma", $("#opt-sigma").value);
      if (task === "deblur" && $("#opt-kernel").value) data.append("kernel", $("#opt-kernel").value);
      if (task === "inpaint" && $("#opt-mask").files.length) data.append("mask", $("#opt-mask").files[0]);
    }
    return data;
  }

  // --- upload -----------------------------------------------------------------------------
  const drop = $("#drop-zone");
  const input = $("#file-input");
  input.addEventListener("change", () => {
    if (input.files.length) submit([...input.files]);
    input.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => {
    const files = [...e.dataTransfer.files];
    if (files.length) submit(files);
  });

  async function submit(files) {
    showError("");
    const data = formOptions();
    for (const file of files) data.append("files", file, file.name);
    let job;
    try {
      job = await (await api("/api/jobs", { method: "POST", body: data })).json();
    } catch (err) {
      showError(err.message);
      return;
    }
    follow(job, files);
  }

  // --- one job: cards, polling ------------------------------------------------------------
  function follow(job, files) {
    const section = document.createElement("section");
    section.className = "job";
    section.dataset.jobId = job.id;
    section.innerHTML = `<div class="job-head"><h2></h2><button type="button" class="zip secondary" hidden>Download all (zip)</button></div><div class="job-cards"></div>`;
    const what = job.frames ? `${files.length} photos merged into one` : `${files.length} photo${files.length > 1 ? "s" : ""}`;
    $("h2", section).textContent = `${what} - ${new Date().toLocaleTimeString()}`;
    $("#jobs").prepend(section);
    const cards = job.images.map((image, i) => makeCard(section, image, files[i]));
    $(".zip", section).addEventListener("click", () => downloadZip(job.id));

    const poll = async () => {
      let state;
      try {
        state = await (await api(`/api/jobs/${job.id}`)).json();
      } catch (err) {
        showError(err.message);
        return;
      }
      state.images.forEach((image, i) => updateCard(cards[i], job.id, image));
      if (state.finished === null) {
        setTimeout(poll, 400);
      } else if (state.images.some((im) => im.status === "done")) {
        $(".zip", section).hidden = false;
      }
    };
    poll();
  }

  function makeCard(section, image, file) {
    const card = $("#image-card").content.firstElementChild.cloneNode(true);
    $(".name", card).textContent = image.name;
    $(".before", card).src = URL.createObjectURL(file);
    setupCompare(card);
    $(".job-cards", section).append(card);
    return { el: card, shown: false };
  }

  // "1.42 MP/s, ETA 0:12" while it runs; "1.42 MP/s, 3.1 s" when done
  function speedText(image) {
    if (image.mp_per_s === null || image.mp_per_s === undefined) return "";
    const rate = `${image.mp_per_s.toFixed(2)} MP/s`;
    if (image.status === "running" && image.eta_s !== null) {
      const s = Math.max(0, Math.round(image.eta_s));
      return `${rate}, ETA ${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    }
    return image.status === "done" ? `${rate}, ${image.seconds.toFixed(1)} s` : "";
  }

  async function updateCard(card, jobId, image) {
    const el = card.el;
    const pct = Math.round(image.progress * 100);
    $(".fill", el).style.width = pct + "%";
    $(".bar", el).setAttribute("aria-valuenow", String(pct));
    const status = $(".status", el);
    status.textContent = image.status === "running" ? `working ${pct}%` : image.status;
    status.className = "status " + image.status;
    $(".speed", el).textContent = speedText(image);
    const decision = $(".decision", el);
    decision.textContent = image.error || image.decision || "";
    decision.classList.toggle("failed", image.status === "failed");
    if (image.status === "done" && !card.shown) {
      card.shown = true;
      el.classList.add("done");
      try {
        const blob = await (await api(`/api/jobs/${jobId}/results/${image.index}`)).blob();
        const url = URL.createObjectURL(blob);
        $(".after", el).src = url;
        const link = $(".download", el);
        link.href = url;
        link.download = image.output_name;
        $(".compare-block", el).hidden = false;
      } catch (err) {
        decision.textContent = "Could not fetch the result: " + err.message;
      }
    }
  }

  // --- before/after comparison ------------------------------------------------------------
  function setupCompare(card) {
    const slider = $(".slider", card);
    const compare = $(".compare", card);
    const viewport = $(".viewport", card);
    const set = (pct) => {
      pct = Math.max(0, Math.min(100, pct));
      $(".after", card).style.clipPath = `inset(0 0 0 ${pct}%)`;
      $(".divider", card).style.left = pct + "%";
      slider.value = String(pct);
    };
    slider.addEventListener("input", () => set(Number(slider.value)));
    let dragging = false;
    const fromPointer = (e) => {
      const box = compare.getBoundingClientRect();
      set(((e.clientX - box.left) / box.width) * 100);
    };
    compare.addEventListener("pointerdown", (e) => { dragging = true; compare.setPointerCapture(e.pointerId); fromPointer(e); });
    compare.addEventListener("pointermove", (e) => { if (dragging) fromPointer(e); });
    compare.addEventListener("pointerup", () => { dragging = false; });
    $(".zoom", card).addEventListener("click", (e) => {
      const zoomed = viewport.classList.toggle("zoomed");
      const after = $(".after", card);
      // 100%: one image pixel per screen pixel, scroll to look around
      compare.style.width = zoomed ? after.naturalWidth / window.devicePixelRatio + "px" : "";
      e.target.textContent = zoomed ? "Fit to width" : "Zoom 100%";
    });
    set(50);
  }

  async function downloadZip(jobId) {
    try {
      const blob = await (await api(`/api/jobs/${jobId}/results.zip`)).blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "restored.zip";
      document.body.append(link);
      link.click();
      link.remove();
    } catch (err) {
      showError(err.message);
    }
  }

  loadMethods();
})();
