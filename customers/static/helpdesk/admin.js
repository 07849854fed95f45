// Small behaviours of the admin screens; every screen works without them (plain forms).
(function () {
  "use strict";

  // Search as you type: debounced, answered by the server (the same view, partial=1).
  document.querySelectorAll("form[data-live-search]").forEach(function (form) {
    var target = document.querySelector(form.dataset.results);
    var timer = null;
    var last = null;
    function search() {
      var params = new URLSearchParams(new FormData(form));
      var query = params.toString();
      if (query === last) return;
      last = query;
      params.set("partial", "1");
      fetch(form.action + "?" + params.toString(), {headers: {"X-Requested-With": "fetch"}})
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (last === query) {
            target.innerHTML = html;
            history.replaceState(null, "", form.action + "?" + query);
          }
        });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 250);
    });
    form.addEventListener("change", function () { clearTimeout(timer); search(); });
  });

  // Filter boxes hide the rows that do not contain the text.
  document.querySelectorAll("input[data-filter]").forEach(function (box) {
    box.addEventListener("input", function () {
      var needle = box.value.toLowerCase();
      document.querySelectorAll(box.dataset.filter).forEach(function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) === -1;
      });
    });
    box.addEventListener("keydown", function (event) { if (event.key === "Enter") event.preventDefault(); });
  });

  // A header checkbox sets its whole column (rows shown only).
  document.querySelectorAll("input[data-toggle-column]").forEach(function (header) {
    header.addEventListener("change", function () {
      var table = header.closest("table");
      table.querySelectorAll('tbody input[data-column="' + header.dataset.toggleColumn + '"]').forEach(function (box) {
        if (!box.closest("tr").hidden) {
          box.checked = header.checked;
          box.dispatchEvent(new Event("change", {bubbles: true}));
        }
      });
    });
  });

  // rw implies every other type: checking rw checks the whole row; unchecking another type unchecks rw.
  document.querySelectorAll("table.hd-matrix").forEach(function (table) {
    table.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.dataset || !box.dataset.type) return;
      var row = box.closest("tr");
      if (box.dataset.type === "rw" && box.checked) {
        row.querySelectorAll("input[data-type]").forEach(function (other) { other.checked = true; });
      } else if (box.dataset.type !== "rw" && !box.checked) {
        var rw = row.querySelector('input[data-type="rw"]');
        if (rw) rw.checked = false;
      }
    });
  });
})();

// Django's change-list search box answers as you type too: the server's next page replaces the list.
(function () {
  "use strict";
  var form = document.getElementById("changelist-search");
  var box = document.getElementById("searchbar");
  if (!form || !box) return;
  var timer = null;
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var url = form.action + "?" + new URLSearchParams(new FormData(form)).toString();
      fetch(url).then(function (response) { return response.text(); }).then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["#changelist-form", "#hidden-count", ".paginator"].forEach(function (selector) {
          var now = document.querySelector(selector), next = fresh.querySelector(selector);
          if (now && next) now.replaceWith(next);
        });
        history.replaceState(null, "", url);
      });
    }, 300);
  });
})();

// Fields that suggest existing things as you type (customer IDs, customer users): a datalist the server
// fills from `data-choices`; the field stays a plain text box, so what is typed by hand works as before.
(function () {
  "use strict";
  document.querySelectorAll("input[data-choices]").forEach(function (box, n) {
    var url = box.dataset.choices;
    var list = document.createElement("datalist");
    list.id = "choices-" + n;
    box.after(list);
    box.setAttribute("list", list.id);
    var timer = null;
    box.addEventListener("input", function () {
      clearTimeout(timer);
      var typed = box.value.split(/[;,|]/).pop().trim();
      timer = setTimeout(function () {
        fetch(url + "?" + new URLSearchParams({q: typed})).then(function (r) { return r.json(); }).then(function (data) {
          list.replaceChildren.apply(list, data.results.map(function (choice) {
            var option = document.createElement("option");
            option.value = choice.id;
            option.label = choice.text;
            return option;
          }));
        });
      }, 200);
    });
  });
})();
