import type { ReactNode } from "react";

// No favicon request: its 404 would be an error in the page's console, which the test reads.
export const metadata = { title: "jobsocket on Next.js", icons: { icon: "data:," } };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
