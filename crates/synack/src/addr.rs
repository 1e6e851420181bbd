//! Addresses as tokio takes them: anything that names one or more socket
//! addresses (`"10.0.0.2:80"`, `("10.0.0.2", 80)`, a `SocketAddr`, a slice
//! of them). Numeric addresses are used as they are; a host name is
//! resolved by the operating system's resolver (`tokio::net::lookup_host`),
//! as tokio does.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Names one or more socket addresses, as `tokio::net::ToSocketAddrs` does.
pub trait ToSocketAddrs {
    /// The addresses, or the host name and port to resolve.
    #[doc(hidden)]
    fn to_targets(&self) -> io::Result<Targets>;
}

/// What [`ToSocketAddrs`] names: addresses, or a name to resolve.
#[doc(hidden)]
#[derive(Debug)]
pub enum Targets {
    /// Addresses as given.
    Addrs(Vec<SocketAddr>),
    /// `host:port` for the resolver.
    Lookup(String),
}

impl Targets {
    /// The addresses, resolving a host name if need be; never empty.
    pub(crate) async fn resolve(self) -> io::Result<Vec<SocketAddr>> {
        let addrs = match self {
            Targets::Addrs(a) => a,
            Targets::Lookup(host) => tokio::net::lookup_host(host).await?.collect(),
        };
        if addrs.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "could not resolve to any address"));
        }
        Ok(addrs)
    }
}

/// The targets of one address.
fn one(a: SocketAddr) -> io::Result<Targets> {
    Ok(Targets::Addrs(vec![a]))
}

impl ToSocketAddrs for SocketAddr {
    fn to_targets(&self) -> io::Result<Targets> {
        one(*self)
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_targets(&self) -> io::Result<Targets> {
        one(SocketAddr::V4(*self))
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    fn to_targets(&self) -> io::Result<Targets> {
        one(SocketAddr::V6(*self))
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    fn to_targets(&self) -> io::Result<Targets> {
        one(SocketAddr::new(self.0, self.1))
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_targets(&self) -> io::Result<Targets> {
        one(SocketAddr::new(IpAddr::V4(self.0), self.1))
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    fn to_targets(&self) -> io::Result<Targets> {
        one(SocketAddr::new(IpAddr::V6(self.0), self.1))
    }
}

impl ToSocketAddrs for str {
    fn to_targets(&self) -> io::Result<Targets> {
        match self.parse::<SocketAddr>() {
            Ok(a) => one(a),
            Err(_) if self.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) => {
                Ok(Targets::Lookup(self.to_owned()))
            }
            Err(_) => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid socket address {self:?}"))),
        }
    }
}

impl ToSocketAddrs for String {
    fn to_targets(&self) -> io::Result<Targets> {
        self.as_str().to_targets()
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_targets(&self) -> io::Result<Targets> {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => one(SocketAddr::new(ip, self.1)),
            Err(_) => Ok(Targets::Lookup(format!("{}:{}", self.0, self.1))),
        }
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_targets(&self) -> io::Result<Targets> {
        (self.0.as_str(), self.1).to_targets()
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_targets(&self) -> io::Result<Targets> {
        Ok(Targets::Addrs(self.to_vec()))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_targets(&self) -> io::Result<Targets> {
        (**self).to_targets()
    }
}

/// Resolves `addr` to its addresses.
pub(crate) async fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    addr.to_targets()?.resolve().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn numeric_forms_need_no_resolver_and_junk_is_an_error() {
        let want: SocketAddr = "10.0.0.2:80".parse().unwrap();
        assert_eq!(resolve("10.0.0.2:80").await.unwrap(), vec![want]);
        assert_eq!(resolve(("10.0.0.2", 80)).await.unwrap(), vec![want]);
        assert_eq!(resolve((Ipv4Addr::new(10, 0, 0, 2), 80)).await.unwrap(), vec![want]);
        assert_eq!(resolve(String::from("[::1]:5")).await.unwrap(), vec!["[::1]:5".parse().unwrap()]);
        assert_eq!(resolve(&[want, want][..]).await.unwrap().len(), 2);
        assert_eq!(resolve("localhost:80").await.unwrap()[0].port(), 80);
        assert_eq!(resolve("not an address").await.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(resolve(&[][..]).await.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
