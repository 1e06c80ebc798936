// bonemets console: the job page's live progress. Polls the job's status once a second and moves the bar; when the
// job has finished, reloads the page (which then offers the results and the summary). Nothing else, nothing fetched
// from elsewhere; without JavaScript the page still shows the status as of its loading.
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job || job.dataset.finished === "true") { return; }
  var url = job.dataset.statusUrl;
  function tick() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { setTimeout(tick, 2000); return; }
        document.getElementById("job-progress").value = s.progress;
        document.getElementById("job-percent").textContent = Math.round(s.progress * 100) + " %";
        document.getElementById("job-done").textContent = s.done;
        document.getElementById("job-failed").textContent = s.failed;
        if (s.finished) { window.location.reload(); } else { setTimeout(tick, 1000); }
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 1000);
})();
