-- Tenancy: paid and private email providers join the providers no domain claim may name.
--
-- The npm lists loaded into tenancy.public_email_domains (20261127120201) miss common paid and private
-- providers: claims on hey.com, tutanota.com or mailbox.org were accepted, yet anyone can get an address
-- there, so such a claim admits anyone. This adds the providers kept by hand in
-- dev/private_email_providers.ts, as public; a domain already listed keeps its row. Later data migrations
-- written by `deno task refresh-free-email-domains` load them with the npm lists (pushed migrations never
-- change, so this one adds rows rather than editing the data migration). Claims made before a domain was
-- listed stay; a warning names them on push.

insert into tenancy.public_email_domains (domain, kind) values
  ('163.com', 'public'),
  ('addy.io', 'public'),
  ('aleeas.com', 'public'),
  ('anonaddy.com', 'public'),
  ('anonaddy.me', 'public'),
  ('aol.com', 'public'),
  ('autistici.org', 'public'),
  ('cock.li', 'public'),
  ('countermail.com', 'public'),
  ('ctemplar.com', 'public'),
  ('dismail.de', 'public'),
  ('disroot.org', 'public'),
  ('duck.com', 'public'),
  ('e.email', 'public'),
  ('etik.com', 'public'),
  ('fastmail.com', 'public'),
  ('fastmail.fm', 'public'),
  ('gmail.com', 'public'),
  ('gmx.com', 'public'),
  ('gmx.de', 'public'),
  ('gmx.net', 'public'),
  ('googlemail.com', 'public'),
  ('hey.com', 'public'),
  ('hotmail.com', 'public'),
  ('hush.ai', 'public'),
  ('hush.com', 'public'),
  ('hushmail.com', 'public'),
  ('hushmail.me', 'public'),
  ('icloud.com', 'public'),
  ('ik.me', 'public'),
  ('ikmail.com', 'public'),
  ('inventati.org', 'public'),
  ('keemail.me', 'public'),
  ('kolabnow.ch', 'public'),
  ('kolabnow.com', 'public'),
  ('lavabit.com', 'public'),
  ('librem.one', 'public'),
  ('live.com', 'public'),
  ('mac.com', 'public'),
  ('mail.ru', 'public'),
  ('mailbox.org', 'public'),
  ('mailfence.com', 'public'),
  ('mailo.com', 'public'),
  ('me.com', 'public'),
  ('mozmail.com', 'public'),
  ('msn.com', 'public'),
  ('murena.io', 'public'),
  ('mykolab.ch', 'public'),
  ('mykolab.com', 'public'),
  ('naver.com', 'public'),
  ('onmail.com', 'public'),
  ('outlook.com', 'public'),
  ('passinbox.com', 'public'),
  ('passmail.net', 'public'),
  ('pm.me', 'public'),
  ('pobox.com', 'public'),
  ('posteo.at', 'public'),
  ('posteo.be', 'public'),
  ('posteo.ch', 'public'),
  ('posteo.de', 'public'),
  ('posteo.eu', 'public'),
  ('posteo.net', 'public'),
  ('posteo.org', 'public'),
  ('privaterelay.appleid.com', 'public'),
  ('proton.me', 'public'),
  ('protonmail.ch', 'public'),
  ('protonmail.com', 'public'),
  ('qq.com', 'public'),
  ('riseup.net', 'public'),
  ('runbox.com', 'public'),
  ('runbox.no', 'public'),
  ('safe-mail.net', 'public'),
  ('simplelogin.com', 'public'),
  ('slmail.me', 'public'),
  ('slmails.com', 'public'),
  ('soverin.net', 'public'),
  ('startmail.com', 'public'),
  ('systemli.org', 'public'),
  ('tuta.com', 'public'),
  ('tuta.io', 'public'),
  ('tutamail.com', 'public'),
  ('tutanota.com', 'public'),
  ('tutanota.de', 'public'),
  ('web.de', 'public'),
  ('yahoo.com', 'public'),
  ('yandex.com', 'public'),
  ('yandex.ru', 'public'),
  ('zoho.com', 'public'),
  ('zohomail.com', 'public'),
  ('zohomail.eu', 'public'),
  ('zohomail.in', 'public')
on conflict (domain) do nothing;

comment on table tenancy.public_email_domains is
  'Email providers where anyone can get an address (public webmail, disposable mail, paid and private mailboxes): no domain claim may name one. Loaded by generated migrations from npm free-email-domains and disposable-email-domains-js, with the hand-kept providers of dev/private_email_providers.ts.';

-- Claims made before their domain was listed stay; say so on push.
do $warn$
declare
  claimed text;
begin
  select string_agg(d.domain, ', ' order by d.domain) into claimed
    from tenancy.domain_claims d
   where tenancy_private.public_email_provider(d.domain) is not null;
  if claimed is not null then
    raise warning 'domain claims on public or disposable email providers (anyone can join them): %', claimed;
  end if;
end
$warn$;
