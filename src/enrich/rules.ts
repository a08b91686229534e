import { z } from 'zod';
import { parseCidr } from '../util/ip.js';

// Schemas of rules/networks.yaml and rules/approved-sources.yaml. Both parse from {}.

const cidrText = z.string().refine(
  (text) => {
    try {
      parseCidr(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8 or fd00::/8' },
);

const rangeEntry = z.union([
  cidrText,
  z.object({ cidr: cidrText, name: z.string().min(1).optional() }).strict(),
]);

export const networksSchema = z
  .object({
    /** Internal ranges: a record whose one side is inside and the other outside is egress. */
    internal: z.array(rangeEntry).default(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
    /** Ranges never treated as internal even inside `internal` (e.g. a DMZ with public services). */
    exclude: z.array(cidrText).default([]),
  })
  .strict();
export type NetworksRules = z.infer<typeof networksSchema>;

const domainText = z
  .string()
  .min(1)
  .transform((d) => d.toLowerCase().replace(/^\*?\./, '').replace(/\.$/, ''))
  .refine((d) => /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(d), { message: 'expected a domain name such as example.com' });

const urlPrefixText = z
  .string()
  .refine((u) => /^[a-z][a-z0-9+.-]*:\/\/[^/\s]+/i.test(u), { message: 'expected an absolute URL prefix such as https://host/path/' });

const infoHashText = z
  .string()
  .transform((h) => h.toLowerCase())
  .refine((h) => /^[0-9a-f]{40}$/.test(h), { message: 'expected a 40-character hex BitTorrent info hash' });

const dateText = z
  .union([z.string(), z.date()])
  .transform((v, ctx) => {
    const t = v instanceof Date ? v.getTime() : Date.parse(v);
    if (Number.isNaN(t)) {
      ctx.addIssue({ code: 'custom', message: 'expected a date such as 2027-01-31' });
      return z.NEVER;
    }
    return t;
  });

export const approvedSourceSchema = z
  .object({
    name: z.string().min(1),
    owner: z.string().min(1),
    license: z.string().default(''),
    description: z.string().default(''),
    /** After this date (end of day UTC when only a date is given) the approval no longer applies. */
    expires: dateText.optional(),
    match: z
      .object({
        cidrs: z.array(cidrText).default([]),
        /** `example.com` covers itself and every subdomain. */
        domains: z.array(domainText).default([]),
        url_prefixes: z.array(urlPrefixText).default([]),
        /** BitTorrent approved for these torrents only (a Linux ISO, say). */
        info_hashes: z.array(infoHashText).default([]),
        /** BitTorrent approved through these trackers (host names or announce URL prefixes). */
        trackers: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type ApprovedSource = z.infer<typeof approvedSourceSchema>;

export const approvedSourcesSchema = z
  .object({ sources: z.array(approvedSourceSchema).default([]) })
  .strict()
  .superRefine((value, ctx) => {
    const seen = new Set<string>();
    value.sources.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['sources', i, 'name'], message: `duplicate name ${s.name}` });
      seen.add(s.name);
    });
  });
export type ApprovedSourcesRules = z.infer<typeof approvedSourcesSchema>;
