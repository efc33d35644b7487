// Full screen needs a user gesture, so the wall screen's button asks for it in the browser.
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.cockpit = Object.assign({}, window.dash_clientside.cockpit, {
  fullscreen: function (n) {
    if (n && document.documentElement.requestFullscreen && !document.fullscreenElement) {
      document.documentElement.requestFullscreen().catch(function () {});
    }
    return window.dash_clientside.no_update;
  }
});
