//! A model of nginx's slab allocator (`src/core/ngx_slab.c`, 64-bit, 4 KiB pages) that decides
//! how many `limit_req` states fit in a zone of a given size, so that our zones fill up and
//! evict at the same key counts as nginx's.
//!
//! Modelled: the pool header and page descriptors taken from the zone, power-of-two size
//! classes from 8 to 2048 bytes (pages split into equal slots; the 8/16/32-byte classes lose
//! slots to their in-page bitmap), whole pages for bigger objects, pages returned when their
//! last slot is freed. Not modelled: address contiguity of multi-page objects (>2 KiB keys).

/// nginx's page size on x86-64 Linux.
pub const PAGE_SIZE: u64 = 4096;
/// `sizeof(ngx_slab_pool_t)` + 9 slot heads + 9 stats entries on 64-bit Linux.
const POOL_OVERHEAD: u64 = 200 + 9 * 24 + 9 * 32;
/// `sizeof(ngx_slab_page_t)`: one descriptor per page.
const PAGE_DESC: u64 = 24;
const MIN_SHIFT: u32 = 3;
const MAX_SHIFT: u32 = 11; // pagesize / 2

/// Where an allocation lives, to free it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlabRef {
    /// A slot of class `shift` on page `page`.
    Slot { shift: u32, page: u32 },
    /// `n` whole pages.
    Pages { n: u32 },
}

#[derive(Debug, Default, Clone)]
struct Class {
    /// Used slots per page id (0 = page not owned by this class).
    used: Vec<u32>,
    /// Pages of this class with a free slot (may hold stale ids; checked on use).
    partial: Vec<u32>,
}

/// The slab pool of one zone.
#[derive(Debug, Clone)]
pub(crate) struct Slab {
    #[cfg_attr(not(test), allow(dead_code))]
    total_pages: u32,
    free_pages: u32,
    next_page: u32,
    recycled: Vec<u32>,
    classes: Vec<Class>,
}

/// Usable pages of a zone of `size` bytes (`ngx_slab_init`).
pub(crate) fn zone_pages(size: u64) -> u32 {
    if size <= POOL_OVERHEAD {
        return 0;
    }
    let mut pages = (size - POOL_OVERHEAD) / (PAGE_SIZE + PAGE_DESC);
    let start = (POOL_OVERHEAD + pages * PAGE_DESC).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let fit = size.saturating_sub(start) / PAGE_SIZE;
    if pages > fit {
        pages = fit;
    }
    pages as u32
}

/// Slots per page of class `shift`.
fn slots_per_page(shift: u32) -> u32 {
    let n = (PAGE_SIZE >> shift) as u32;
    if shift < 6 {
        // small classes keep their bitmap in the page's first slots
        let map = ((PAGE_SIZE >> shift) / ((1u64 << shift) * 8)).max(1) as u32;
        n - map
    } else {
        n
    }
}

/// The size class (shift) of an allocation of `size` bytes, or `None` for whole pages.
fn class_of(size: u64) -> Option<u32> {
    if size > PAGE_SIZE / 2 {
        return None;
    }
    let mut shift = MIN_SHIFT;
    while (1u64 << shift) < size {
        shift += 1;
    }
    Some(shift)
}

impl Slab {
    /// A fresh pool for a zone of `size` bytes.
    pub(crate) fn new(size: u64) -> Slab {
        let pages = zone_pages(size);
        Slab {
            total_pages: pages,
            free_pages: pages,
            next_page: 0,
            recycled: Vec::new(),
            classes: vec![Class::default(); (MAX_SHIFT - MIN_SHIFT + 1) as usize],
        }
    }

    /// Pages in the pool.
    #[cfg(test)]
    pub(crate) fn total_pages(&self) -> u32 {
        self.total_pages
    }

    /// Allocates `size` bytes; `None` when nginx's `ngx_slab_alloc_locked` would fail.
    pub(crate) fn alloc(&mut self, size: u64) -> Option<SlabRef> {
        let Some(shift) = class_of(size) else {
            let n = size.div_ceil(PAGE_SIZE) as u32;
            if self.free_pages < n {
                return None;
            }
            self.free_pages -= n;
            return Some(SlabRef::Pages { n });
        };
        let per_page = slots_per_page(shift);
        let ci = (shift - MIN_SHIFT) as usize;
        while let Some(&page) = self.classes[ci].partial.last() {
            let used = self.classes[ci]
                .used
                .get(page as usize)
                .copied()
                .unwrap_or(0);
            if used == 0 || used >= per_page {
                self.classes[ci].partial.pop();
                continue;
            }
            self.classes[ci].used[page as usize] += 1;
            if used + 1 >= per_page {
                self.classes[ci].partial.pop();
            }
            return Some(SlabRef::Slot { shift, page });
        }
        if self.free_pages == 0 {
            return None;
        }
        self.free_pages -= 1;
        let page = self.recycled.pop().unwrap_or_else(|| {
            self.next_page += 1;
            self.next_page - 1
        });
        let class = &mut self.classes[ci];
        if class.used.len() <= page as usize {
            class.used.resize(page as usize + 1, 0);
        }
        class.used[page as usize] = 1;
        if per_page > 1 {
            class.partial.push(page);
        }
        Some(SlabRef::Slot { shift, page })
    }

    /// Frees an allocation made by [`Slab::alloc`].
    pub(crate) fn free(&mut self, r: SlabRef) {
        match r {
            SlabRef::Pages { n } => self.free_pages += n,
            SlabRef::Slot { shift, page } => {
                let per_page = slots_per_page(shift);
                let class = &mut self.classes[(shift - MIN_SHIFT) as usize];
                let used = &mut class.used[page as usize];
                let was_full = *used >= per_page;
                *used -= 1;
                if *used == 0 {
                    self.free_pages += 1;
                    self.recycled.push(page);
                } else if was_full {
                    class.partial.push(page);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nodes of `node_size` bytes that fit after the zone's two setup allocations.
    fn capacity(size: u64, node_size: u64, name_len: u64) -> usize {
        let mut s = Slab::new(size);
        s.alloc(80).unwrap(); // ngx_http_limit_req_shctx_t
        s.alloc(22 + name_len).unwrap(); // " in limit_req zone \"NAME\""
        let mut n = 0;
        while s.alloc(node_size).is_some() {
            n += 1;
        }
        n
    }

    #[test]
    fn capacities_match_nginx_measurements() {
        // spec §1 [V]: 32k → 191, 1m → 8095, 10m → 81375 states of $binary_remote_addr
        assert_eq!(capacity(32 * 1024, 84, 3), 191);
        assert_eq!(capacity(1024 * 1024, 84, 3), 8095);
        assert_eq!(capacity(10 * 1024 * 1024, 84, 3), 81_375);
    }

    #[test]
    fn classes_and_free() {
        assert_eq!(class_of(84), Some(7));
        assert_eq!(class_of(128), Some(7));
        assert_eq!(class_of(129), Some(8));
        assert_eq!(class_of(5000), None);
        assert_eq!(slots_per_page(5), 127);
        assert_eq!(slots_per_page(3), 504);
        let mut s = Slab::new(32 * 1024);
        assert_eq!(s.total_pages(), 7);
        let all: Vec<_> = std::iter::from_fn(|| s.alloc(100)).collect();
        assert_eq!(all.len(), 7 * 32);
        assert!(s.alloc(300).is_none());
        // freeing one 128-byte slot does not make room for a 256-byte object
        s.free(all[0]);
        assert!(s.alloc(300).is_none());
        assert!(s.alloc(100).is_some());
        // freeing a whole page does
        for r in &all[32..64] {
            s.free(*r);
        }
        assert!(s.alloc(300).is_some());
    }
}
