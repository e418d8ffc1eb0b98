() => {
  // Keyboard shortcuts: each key clicks the first *visible* button it names, so a key does what
  // the button under the expert's eyes does, in whichever tab is open.
  const target = (e) => {
    if (/^[1-9]$/.test(e.key) && !e.ctrlKey && !e.metaKey && !e.altKey) {
      return [`label-key-${e.key}`, `review-key-${e.key}`, `map-key-${e.key}`];
    }
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && (e.key === 'z' || e.key === 'Z')) return ['undo'];
    if (e.ctrlKey || e.metaKey || e.altKey) return [];
    if (e.key === 'Enter') return ['review-accept'];
    if (e.key === 'ArrowLeft') return ['page-prev'];
    if (e.key === 'ArrowRight') return ['page-next', 'review-skip'];
    return [];
  };
  // A letter typed where no text box has the focus starts a class name in the visible
  // "type a class" box, whose Enter then labels: no letter is a shortcut, so a word typed
  // before clicking the box cannot select, skip or label anything on the way.
  const classBox = () => [...document.querySelectorAll('#label-as, #review-as, #map-as')]
    .filter((box) => box.checkVisibility())
    .map((box) => box.querySelector('textarea, input'))
    .find((input) => input && !input.disabled);
  const startsName = (e) => e.key.length === 1 && /\p{L}/u.test(e.key) && !e.isComposing
    && !e.ctrlKey && !e.metaKey && !e.altKey;
  // A class name too long for its key is cut short with an ellipsis (style.css): the button's
  // tooltip gives it whole. Gradio sets no title on a button, so it is set here on each redraw.
  const titled = () => document.querySelectorAll('button.key').forEach((b) => {
    const text = b.textContent.trim();
    if (b.title !== text) b.title = text;
  });
  new MutationObserver(titled).observe(document.body, {subtree: true, childList: true, characterData: true});
  // A double-click on a button is one press: its second click (detail 2 and up) is dropped
  // before the button hears of it, so that a habit of double-clicking undoes one edit, not two,
  // and labels the card on screen, not the next one too. Clicking through pages is meant.
  document.addEventListener('click', (e) => {
    const button = e.target.closest && e.target.closest('button');
    if (e.detail > 1 && button && !button.matches('#page-prev, #page-next')) {
      e.stopPropagation();
      e.preventDefault();
    }
  }, true);
  // The threshold box takes a whole percentage too: 95 typed there reads as 0.95 (the slider
  // would clamp it to 1.00, which accepts nothing, and say nothing); and a value beyond the
  // bounds is put at the bound. Rewritten on Enter or on leaving the box, before the slider's
  // own handlers read it (not while typing: see widgets.within_bounds).
  const asFraction = (e) => {
    const box = e.target.closest && e.target.closest('#threshold input[type="number"]');
    if (!box || box.value === '' || (e.type === 'keydown' && e.key !== 'Enter')) return;
    const typed = Number(box.value);
    const fraction = Number.isInteger(typed) && typed > 1 && typed <= 100 ? typed / 100 : typed;
    const value = Math.min(Number(box.max), Math.max(Number(box.min), fraction));
    if (!Number.isNaN(value) && value !== typed) {
      box.value = String(value);
      box.dispatchEvent(new Event('input', {bubbles: true}));
    }
  };
  // Enter in a "type a class" box labels (Gradio submits it on the key press); the box then
  // lets go of the keys, so that the next card's Enter or number key works at once, without an
  // Escape first (pressed then, they were refused, or typed into the box).
  document.addEventListener('keyup', (e) => {
    const box = e.key === 'Enter' && !e.isComposing && e.target.closest
      && e.target.closest('#label-as, #review-as, #map-as');
    if (box) e.target.blur();
  });
  document.addEventListener('blur', asFraction, true);
  document.addEventListener('keydown', asFraction, true);
  let tabbed = false; // whether the focus last moved by the keyboard (Tab), not by a click
  document.addEventListener('pointerdown', () => { tabbed = false; }, true);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Tab') tabbed = true;
    const typing = e.target.closest && e.target.closest('input, textarea, select, [contenteditable]');
    if (typing) {
      // Escape lets go of a text box, so that the keys work again without a click elsewhere.
      if (e.key === 'Escape' && !e.target.closest('[aria-expanded="true"]')) e.target.blur();
      return;
    }
    // Enter on a control reached with Tab (a button, a tab, a link) presses that control, as
    // always; it is not "accept the prediction". A control last clicked keeps the focus too:
    // Enter after clicking the Review tab accepts.
    const control = e.target.closest && e.target.closest('button, a, [role="button"], [role="tab"], summary');
    if (e.key === 'Enter' && control && tabbed) {
      // A tab opened with Enter hands the keys to its view: the next Enter accepts, as after
      // a click on the tab.
      if (control.matches('[role="tab"]')) tabbed = false;
      return;
    }
    // Escape lets go of a control reached with Tab, so that Enter accepts again.
    if (e.key === 'Escape' && control) {
      control.blur();
      tabbed = false;
      return;
    }
    if (startsName(e)) {
      const box = classBox();
      // Before the key's default action: the letter goes into the box, in place of what a
      // refused name left there (typed again after a click, it had been added to it).
      if (box) {
        box.focus();
        box.select();
      }
      return;
    }
    for (const id of target(e)) {
      const button = document.getElementById(id);
      if (button && button.checkVisibility() && !button.disabled) {
        e.preventDefault();
        button.click();
        return;
      }
    }
  });
}
