/* Dokaz: resumable uploads for the report and follow-up forms (progressive enhancement).
 *
 * Without JavaScript the forms send files in the ordinary multipart POST. With it, each
 * chosen file is first sent with the tus 1.0 protocol to /api/v1/uploads in chunks, with a
 * progress bar and automatic retry from the last confirmed offset, so a dropped
 * connection (common over Tor on a phone) costs one chunk, not the whole file. The form is
 * then posted without the file bytes, carrying the upload URLs in hidden "uploads" fields.
 * All texts come from data-msg-* attributes rendered by the server in the page language.
 * Nothing is loaded from anywhere else; no storage APIs are used.
 */
(function () {
  "use strict";
  var CHUNK = 4 * 1024 * 1024;
  var RETRY_DELAYS = [1000, 3000, 5000, 10000, 20000, 30000, 60000];

  function b64(text) {
    var bytes = new TextEncoder().encode(text), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, k) { return values[k]; });
  }

  function request(method, url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      Object.keys(headers).forEach(function (h) { xhr.setRequestHeader(h, headers[h]); });
      if (onProgress && xhr.upload) {
        xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      }
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = function () { reject(new Error("network")); };
      xhr.ontimeout = function () { reject(new Error("timeout")); };
      xhr.send(body);
    });
  }

  // A refusal the server explained (a file of a refused type, too large, ...): retrying
  // cannot help, and the connection is not to blame, so the person is told what it said.
  function refusal(xhr) {
    var error = {};
    try { error = JSON.parse(xhr.responseText).error || {}; } catch (e) { error = {}; }
    return Object.assign(new Error("refused"), {
      fatal: xhr.status, code: error.code || "", message: error.message || "",
      reason: (error.details && error.details.reason) || ""
    });
  }

  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  async function createUpload(endpoint, file) {
    var meta = "filename " + b64(file.name);
    if (file.type) meta += ",filetype " + b64(file.type);
    var xhr = await request("POST", endpoint, {
      "Tus-Resumable": "1.0.0",
      "Upload-Length": String(file.size),
      "Upload-Metadata": meta
    }, null);
    if (xhr.status >= 400 && xhr.status < 500 && xhr.status !== 429) throw refusal(xhr);
    if (xhr.status !== 201) throw new Error("create:" + xhr.status);
    var location = xhr.getResponseHeader("Location");
    return new URL(location, window.location.href).toString();
  }

  async function currentOffset(url) {
    var xhr = await request("HEAD", url, { "Tus-Resumable": "1.0.0" }, null);
    if (xhr.status !== 200 && xhr.status !== 204) throw new Error("head:" + xhr.status);
    return parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
  }

  async function sendFile(endpoint, file, ui) {
    var url = null, offset = 0, attempt = 0;
    while (true) {
      try {
        if (url === null) url = await createUpload(endpoint, file);
        else offset = await currentOffset(url);
        while (offset < file.size) {
          var chunk = file.slice(offset, Math.min(offset + CHUNK, file.size));
          var base = offset;
          var xhr = await request("PATCH", url, {
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": String(offset),
            "Content-Type": "application/offset+octet-stream"
          }, chunk, function (loaded) { ui.progress(base + loaded); });
          if (xhr.status !== 204) {
            if (xhr.status >= 400 && xhr.status < 500 && xhr.status !== 409 && xhr.status !== 429) {
              throw refusal(xhr);
            }
            throw new Error("patch:" + xhr.status);
          }
          offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
          attempt = 0;
          ui.progress(offset);
        }
        if (file.size === 0) ui.progress(0);
        return url;
      } catch (err) {
        if (err.fatal || attempt >= RETRY_DELAYS.length) throw err;
        ui.retrying(Math.round(RETRY_DELAYS[attempt] / 1000));
        await wait(RETRY_DELAYS[attempt]);
        attempt += 1;
      }
    }
  }

  function failureText(form, err) {
    if (!err || !err.fatal) return form.dataset.msgFailed;
    if (err.reason === "program") return form.dataset.msgRefusedProgram;
    if (err.fatal === 415) return form.dataset.msgRefused;
    if (err.fatal === 413) return form.dataset.msgTooLarge;
    return err.message ? form.dataset.msgRefusedOther : form.dataset.msgFailed;
  }

  function fileUi(box, form, file) {
    var p = document.createElement("p");
    var bar = document.createElement("progress");
    bar.max = Math.max(file.size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    box.appendChild(p);
    box.appendChild(bar);
    function status(text) { p.textContent = text; }
    status(fmt(form.dataset.msgUploading, { name: file.name, percent: "0" }));
    return {
      progress: function (sent) {
        bar.value = sent;
        var percent = file.size ? Math.floor((100 * sent) / file.size) : 100;
        status(fmt(form.dataset.msgUploading, { name: file.name, percent: String(percent) }));
      },
      retrying: function (seconds) {
        status(fmt(form.dataset.msgRetrying, { name: file.name, seconds: String(seconds) }));
      },
      done: function () { bar.value = bar.max; status(fmt(form.dataset.msgDone, { name: file.name })); },
      failed: function (err) {
        // The bar goes: a full bar beside a refusal reads as "sent".
        bar.remove();
        p.className = "upload-error";
        status(fmt(failureText(form, err), { name: file.name, reason: (err && err.message) || "" }));
      }
    };
  }

  function enhance(form) {
    var input = form.querySelector("input[type=file]");
    var box = form.querySelector(".upload-progress");
    var endpoint = form.dataset.uploadEndpoint;
    if (!input || !box || !endpoint || !window.XMLHttpRequest || !window.TextEncoder) return;
    var busy = false;
    form.addEventListener("submit", async function (event) {
      if (form.dataset.uploaded === "1" || !input.files || input.files.length === 0) return;
      event.preventDefault();
      if (busy) return;
      busy = true;
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      box.hidden = false;
      box.textContent = "";
      var files = Array.prototype.slice.call(input.files);
      try {
        for (var i = 0; i < files.length; i++) {
          var ui = fileUi(box, form, files[i]);
          var url;
          try {
            url = await sendFile(endpoint, files[i], ui);
          } catch (err) {
            ui.failed(err);
            throw err;
          }
          ui.done();
          var hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = "uploads";
          hidden.value = url;
          form.appendChild(hidden);
        }
        // The bytes are on the server already: post the form without them.
        input.value = "";
        input.disabled = true;
        form.dataset.uploaded = "1";
        form.submit();
      } catch (err) {
        busy = false;
        if (button) button.disabled = false;
        Array.prototype.forEach.call(form.querySelectorAll("input[name=uploads]"), function (el) {
          el.remove();
        });
      }
    });
  }

  document.querySelectorAll("form[data-upload-endpoint]").forEach(enhance);
})();
