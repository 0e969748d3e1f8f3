-- Tenancy: no domain claim on a public or disposable email provider.
--
-- A domain claim admits everyone with a confirmed address at that domain. On gmail.com, outlook.com or a
-- throwaway-mail domain that is everyone on the internet, so such claims are refused, as Clerk and Stytch
-- refuse them. The list is data: tenancy.public_email_domains, loaded by generated migrations
-- (`deno task refresh-free-email-domains` writes a new one from the pinned npm packages free-email-domains and
-- disposable-email-domains-js; pushed migrations never change). A claim is refused when its domain or any
-- parent of it is listed: several listed providers hand out subdomains (`anything.cu.cc`).
--
-- The check runs when a claim is inserted or its domain changed; claims made before a domain was listed stay
-- (the data migration warns about them). To claim a listed domain that really is yours alone, delete its row
-- from tenancy.public_email_domains first (and again after a refresh, which loads the list anew).

create table tenancy.public_email_domains (
  domain text primary key
    check (domain = lower(domain) and domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'),
  kind text not null check (kind in ('public', 'disposable'))
);
comment on table tenancy.public_email_domains is
  'Email providers where anyone can get an address (public webmail, disposable mail): no domain claim may name one. Loaded by generated migrations from npm free-email-domains and disposable-email-domains-js.';
comment on column tenancy.public_email_domains.kind is
  'disposable when the disposable-email-domains list has it, else public.';

alter table tenancy.public_email_domains enable row level security;

-- The listed provider that a domain is, or is under (the nearest), or null.
create function tenancy_private.public_email_provider(p_domain text)
returns tenancy.public_email_domains
language sql stable security definer set search_path = ''
as $$
  select p.*
    from tenancy.public_email_domains p
   where p.domain = p_domain or p_domain like '%.' || p.domain
   order by length(p.domain) desc
   limit 1;
$$;
comment on function tenancy_private.public_email_provider(text) is
  'The row of tenancy.public_email_domains that a domain is or lies under (the nearest parent), or null.';

create function tenancy_private.refuse_public_domain_claim()
returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  provider tenancy.public_email_domains := tenancy_private.public_email_provider(new.domain);
begin
  if provider.domain is not null then
    raise exception 'cannot claim the domain %: % is a % email provider, where anyone can get an address',
      new.domain, provider.domain, provider.kind
      using errcode = 'TNPUB',
            hint = 'Invite the people of this tenant by email instead (tenancy.invitations).';
  end if;
  return new;
end;
$$;
comment on function tenancy_private.refuse_public_domain_claim() is
  'Trigger function: refuses a domain claim on a listed public or disposable email provider (or a subdomain of one) with SQLSTATE TNPUB.';

create trigger domain_claims_refuse_public_domains
  before insert or update of domain on tenancy.domain_claims
  for each row execute function tenancy_private.refuse_public_domain_claim();
comment on trigger domain_claims_refuse_public_domains on tenancy.domain_claims is
  'A claim on a public or disposable email provider would admit anyone; it is refused.';

revoke all on function tenancy_private.public_email_provider(text) from public, anon, authenticated;
revoke all on function tenancy_private.refuse_public_domain_claim() from public, anon, authenticated;
