// An operator's cooldown controls for one provider: clear the active one, or start one.
import { useState } from 'preact/hooks';
import type { Ctx } from './context.ts';
import { fmtTime } from './format.ts';
import { Outcome } from './ui.tsx';

export function CooldownControls({
  ctx,
  provider,
  active,
}: {
  ctx: Ctx;
  provider: string;
  active: boolean;
}) {
  const [seconds, setSeconds] = useState('300');
  const [reason, setReason] = useState('');
  const key = `cooldown-${provider}`;
  return (
    <div class="controls">
      {active && (
        <button
          type="button"
          onClick={() =>
            void ctx.act(key, () => ctx.client.clearCooldown({ provider }), {
              what: 'clearCooldown',
              target: `cooldowns/${provider}`,
              after: (r) => (r.cleared ? 'cleared' : 'none active'),
            })
          }
        >
          Clear cooldown
        </button>
      )}
      <details>
        <summary>Start a cooldown</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void ctx.act(
              key,
              () =>
                ctx.client.startCooldown({
                  provider,
                  seconds: Number(seconds),
                  reason: reason.trim(),
                }),
              {
                confirm: `Stop every call to ${provider} for ${seconds} s?`,
                what: 'startCooldown',
                target: `cooldowns/${provider}`,
                after: (r) => `until ${fmtTime(r.cooldown.untilMs)}`,
              },
            );
          }}
        >
          <label>
            Seconds
            <input
              type="number"
              min={1}
              value={seconds}
              onInput={(e) => setSeconds(e.currentTarget.value)}
            />
          </label>
          <label>
            Reason
            <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button type="submit">Start cooldown</button>
        </form>
      </details>
      <Outcome ctx={ctx} id={key} />
    </div>
  );
}
