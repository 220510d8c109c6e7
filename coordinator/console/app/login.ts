/** The login page: posts the operator secret as JSON and reloads into the console on success. */
const form = document.getElementById("login");
const input = document.getElementById("secret");
const error = document.getElementById("login-error");

async function logIn(secret: string): Promise<void> {
  const res = await fetch("/console/session", {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ secret }),
  });
  if (res.ok) {
    location.reload();
    return;
  }
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (error) error.textContent = `HTTP ${res.status}: ${body.error?.message ?? "refused"}`;
}

if (form instanceof HTMLFormElement && input instanceof HTMLInputElement)
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    logIn(input.value).catch((err: unknown) => {
      if (error) error.textContent = `the coordinator did not answer: ${String(err)}`;
    });
  });
