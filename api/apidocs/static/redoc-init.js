// Starts ReDoc on this app's own OpenAPI document. ReDoc writes its styles into <style>
// elements; the nonce of this page's policy, passed on, is what lets them apply.
(function () {
  "use strict";
  var root = document.getElementById("redoc");
  Redoc.init(root.getAttribute("data-openapi-url"),
             { nonce: document.currentScript.nonce }, root);
})();
