// Baton's one script: a running run's page asks for the timeline rows it has not shown yet,
// every two seconds, until the run has ended. Rows are added as text, never as HTML. At the end
// the page's own content is fetched once more and put in place (the duration, tokens, pull
// request, summary and agent log are only known then), without reloading the page.
(function () {
  "use strict";
  var list = document.getElementById("timeline");
  if (!list || list.dataset.live !== "yes") { return; }
  var run = list.dataset.run, after = Number(list.dataset.after), start = list.dataset.start;
  function add(row) {
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = row.tone;
    li.dataset.seq = row.seq;
    var t = document.createElement("span"); t.className = "t"; t.textContent = "+" + row.offset.toFixed(1) + "s";
    var k = document.createElement("span"); k.className = "k"; k.textContent = row.kind;
    li.append(t, " ", k, " ", row.text);
    list.append(li);
  }
  function ended() {
    var live = document.getElementById("live");
    if (live) { live.textContent = "ended"; live.className = "muted"; }
    list.dataset.live = "no";
  }
  function settle() {
    // The server rendered and escaped this page as it renders any: no script in it runs.
    fetch(window.location.href, {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var main = document.querySelector("main");
        if (!fresh || !main) { throw new Error("no main"); }
        main.replaceWith(document.adoptNode(fresh));
      })
      .catch(ended);
  }
  function poll() {
    fetch("/runs/" + encodeURIComponent(run) + "/events?after=" + after + "&start=" + start, {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        data.rows.forEach(function (row) { add(row); after = Math.max(after, row.seq); });
        var status = document.getElementById("status");
        status.textContent = data.status; status.className = "status status-" + data.status;
        document.getElementById("cost").textContent = data.cost;
        if (data.final) { ended(); settle(); } else { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
